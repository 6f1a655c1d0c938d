package secretscan

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
)

// Partner is a scanning service that reports leaked keys: its name, used
// in the audit actor `secret-scanning:<name>`, and the headers of its
// signature.
type Partner struct {
	Name             string
	IdentifierHeader string
	SignatureHeader  string
}

// The partners whose reports are accepted.
var (
	GitHub = Partner{Name: "github", IdentifierHeader: "Github-Public-Key-Identifier", SignatureHeader: "Github-Public-Key-Signature"}
	GitLab = Partner{Name: "gitlab", IdentifierHeader: "Gitlab-Public-Key-Identifier", SignatureHeader: "Gitlab-Public-Key-Signature"}
)

// Why a report's signature is refused; the endpoint answers 401 to each.
var (
	ErrMissingSignature     = errors.New("missing signature: want the Github-Public-Key-Identifier and Github-Public-Key-Signature headers, or GitLab's")
	ErrAmbiguousSignature   = errors.New("both GitHub's and GitLab's signature headers")
	ErrUnknownKeyIdentifier = errors.New("unknown public key identifier")
	ErrBadSignature         = errors.New("invalid signature")
)

// SignedBy returns the partner whose signature headers the request
// carries, both the identifier and the signature. Headers of one partner
// only: a request with both partners' is refused, so that its actor is
// never a guess.
func SignedBy(h http.Header) (Partner, error) {
	var found []Partner
	for _, p := range []Partner{GitHub, GitLab} {
		if h.Get(p.IdentifierHeader) != "" || h.Get(p.SignatureHeader) != "" {
			found = append(found, p)
		}
	}
	switch {
	case len(found) > 1:
		return Partner{}, ErrAmbiguousSignature
	case len(found) == 0, h.Get(found[0].IdentifierHeader) == "", h.Get(found[0].SignatureHeader) == "":
		return Partner{}, ErrMissingSignature
	}
	return found[0], nil
}

// Verify checks that sig, the base64 of an ASN.1 DER ECDSA signature, is
// the signature of body's SHA-256 by the key with identifier keyID.
func (keys PublicKeys) Verify(keyID, sig string, body []byte) error {
	key := keys[keyID]
	if key == nil {
		return ErrUnknownKeyIdentifier
	}
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sig))
	if err != nil {
		return ErrBadSignature
	}
	digest := sha256.Sum256(body)
	if !ecdsa.VerifyASN1(key, digest[:], der) {
		return ErrBadSignature
	}
	return nil
}
