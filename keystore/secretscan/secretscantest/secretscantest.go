// Package secretscantest plays a secret-scanning partner in tests: real
// ECDSA keys, the public keys file the partner publishes, and signed
// reports.
package secretscantest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"testing"
)

// Partner is a partner's signing key under its identifier.
type Partner struct {
	ID   string
	Priv *ecdsa.PrivateKey
}

// NewPartner makes a signing key on curve (P-256 for a real partner).
func NewPartner(t testing.TB, id string, curve elliptic.Curve) *Partner {
	t.Helper()
	priv, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &Partner{ID: id, Priv: priv}
}

// PEM is the public key as the partner publishes it.
func (p *Partner) PEM(t testing.TB) string {
	t.Helper()
	return PEMPublicKey(t, &p.Priv.PublicKey)
}

// PEMPublicKey encodes any public key as a PEM "PUBLIC KEY" block.
func PEMPublicKey(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// Sign returns the base64 DER signature of body's SHA-256, as partners
// send it.
func (p *Partner) Sign(t testing.TB, body []byte) string {
	t.Helper()
	digest := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, p.Priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// SignRequest sets the signature headers of prefix ("Github" or
// "Gitlab") on req for body.
func (p *Partner) SignRequest(t testing.TB, req *http.Request, prefix string, body []byte) {
	t.Helper()
	req.Header.Set(prefix+"-Public-Key-Identifier", p.ID)
	req.Header.Set(prefix+"-Public-Key-Signature", p.Sign(t, body))
}

// Entry is one entry of a public keys file.
type Entry struct {
	KeyIdentifier string `json:"key_identifier"`
	Key           string `json:"key"`
	IsCurrent     bool   `json:"is_current"`
}

// KeysJSON is a public keys file holding entries, in GitHub's shape.
func KeysJSON(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	data, err := json.Marshal(map[string][]Entry{"public_keys": entries})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// WriteKeysFile writes the public keys file of partners at path.
func WriteKeysFile(t testing.TB, path string, partners ...*Partner) {
	t.Helper()
	var entries []Entry
	for _, p := range partners {
		entries = append(entries, Entry{KeyIdentifier: p.ID, Key: p.PEM(t), IsCurrent: true})
	}
	if err := os.WriteFile(path, KeysJSON(t, entries...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Report is the JSON body of a report of matches.
func Report(t testing.TB, matches ...map[string]string) []byte {
	t.Helper()
	if matches == nil {
		matches = []map[string]string{}
	}
	data, err := json.Marshal(matches)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
