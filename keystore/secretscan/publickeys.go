// Package secretscan is the domain of the secret-scanning partner
// endpoint, without Caddy: the partners' public keys file, the signature
// over a report's raw body, the report itself and the feedback answered.
//
// GitHub's secret scanning partner program and GitLab's leaked-credential
// notifications both POST a JSON array of matches, signed with ECDSA P-256
// over SHA-256 of the raw body, the DER signature in base64 in
// `<Partner>-Public-Key-Signature` and the key's identifier in
// `<Partner>-Public-Key-Identifier`. Both publish their keys in the shape
// {"public_keys": [{"key_identifier", "key", "is_current"}]}, PEM keys.
package secretscan

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// PublicKeys are the partners' P-256 public keys by key identifier.
type PublicKeys map[string]*ecdsa.PublicKey

// keysFile is the JSON of a public keys file, as GitHub serves it at
// https://api.github.com/meta/public_keys/secret_scanning.
type keysFile struct {
	PublicKeys []struct {
		KeyIdentifier string `json:"key_identifier"`
		Key           string `json:"key"`
		IsCurrent     bool   `json:"is_current"`
	} `json:"public_keys"`
}

// ParsePublicKeys reads a public keys file. Entries that are not a P-256
// key under an identifier of their own are left out, each with its reason
// in skipped (never the key itself: it is public, but long); a file
// without a single usable key is an error, as is one that is not such a
// JSON object.
func ParsePublicKeys(data []byte) (keys PublicKeys, skipped []string, err error) {
	var f keysFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, nil, fmt.Errorf(`not a public keys file: want JSON {"public_keys": [{"key_identifier": ..., "key": "-----BEGIN PUBLIC KEY-----..."}]}: %w`, err)
	}
	keys = PublicKeys{}
	for i, e := range f.PublicKeys {
		switch key, err := parseP256(e.Key); {
		case e.KeyIdentifier == "":
			skipped = append(skipped, fmt.Sprintf("public_keys[%d]: missing key_identifier", i))
		case keys[e.KeyIdentifier] != nil:
			skipped = append(skipped, fmt.Sprintf("public_keys[%d]: key_identifier %q given twice, first one kept", i, e.KeyIdentifier))
		case err != nil:
			skipped = append(skipped, fmt.Sprintf("public_keys[%d] (%q): %v", i, e.KeyIdentifier, err))
		default:
			keys[e.KeyIdentifier] = key
		}
	}
	if len(keys) == 0 {
		return nil, skipped, errors.New("no valid ECDSA P-256 public key in the file")
	}
	return keys, skipped, nil
}

// parseP256 decodes a PEM "PUBLIC KEY" block holding an ECDSA P-256 key.
func parseP256(s string) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("key is not PEM")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the public key: %w", err)
	}
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, errors.New("not an ECDSA P-256 key")
	}
	return key, nil
}
