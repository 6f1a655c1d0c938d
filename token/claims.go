// Package token mints and verifies keygate's short-lived access tokens:
// `kgt_` followed by a JWT (RFC 9068 shape, typ at+jwt) signed with
// Ed25519 by one of the signing keys the gateways keep in the key store,
// and holds the OAuth 2.0 token endpoint's request parsing and responses.
// It knows nothing of Caddy.
package token

import (
	"errors"
	"strings"
	"time"
)

// Prefix starts every access token, so that secret scanners and the
// gateway tell tokens from keys at a glance.
const Prefix = "kgt_"

// Type is the JWT header typ of access tokens (RFC 9068 2.1).
const Type = "at+jwt"

// DefaultIssuer is the iss claim when none is configured.
const DefaultIssuer = "keygate"

// Defaults and bounds of token and signing key lifetimes.
const (
	DefaultTTL           = 15 * time.Minute
	DefaultMaxTTL        = time.Hour
	DefaultSigningKeyTTL = 7 * 24 * time.Hour
	// MaxLen bounds a token: anything longer is malformed before parsing.
	MaxLen = 2048
)

// Reasons Verify refuses a token, for errors.Is. Their text is for logs,
// never for clients.
var (
	ErrMalformed         = errors.New("malformed token")
	ErrUnknownSigningKey = errors.New("token signed by an unknown signing key")
	ErrBadSignature      = errors.New("token signature does not verify")
	ErrBadClaims         = errors.New("token claims are not keygate's")
	ErrExpired           = errors.New("token expired")
)

// Claims are what an access token says, and all it says. Subject and
// ClientID are both the key's id.
type Claims struct {
	Issuer      string `json:"iss"`
	Subject     string `json:"sub"`
	ClientID    string `json:"client_id"`
	Integration string `json:"integration"`
	IssuedAt    int64  `json:"iat"`
	Expiry      int64  `json:"exp"`
	ID          string `json:"jti"`
}

// KeyID returns the id of the key the token was issued to.
func (c Claims) KeyID() string { return c.Subject }

// ExpiresAt returns the token's expiry.
func (c Claims) ExpiresAt() time.Time { return time.Unix(c.Expiry, 0) }

// check refuses claims that keygate would not have minted for issuer, or
// that are not valid at now: a token lives at most maxTTL.
func (c Claims) check(issuer string, maxTTL time.Duration, now time.Time) error {
	switch {
	case c.Issuer != issuer, c.Subject == "", c.ClientID != c.Subject, c.Integration == "", c.ID == "",
		c.IssuedAt <= 0, c.Expiry <= c.IssuedAt, c.Expiry-c.IssuedAt > int64(maxTTL/time.Second),
		c.IssuedAt > now.Unix()+60: // a minute of clock skew between gateways
		return ErrBadClaims
	case now.Unix() >= c.Expiry:
		return ErrExpired
	}
	return nil
}

// IsToken reports whether credential looks like an access token rather
// than a key: it starts with Prefix.
func IsToken(credential string) bool { return strings.HasPrefix(credential, Prefix) }
