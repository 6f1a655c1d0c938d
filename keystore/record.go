package keystore

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Integration is a remote service reachable through the gateway at BaseURL.
type Integration struct {
	ID        string    `json:"id"`
	BaseURL   string    `json:"base_url"`
	CreatedAt time.Time `json:"created_at"`
	// Rotation is the default rotation period of its keys and the grace
	// of a key its calling system rolls itself.
	Rotation Rotation `json:"-"`
}

// Rotation is how often keys are to be rolled, and how long a rolled key
// keeps working; zero values: never, and no grace.
type Rotation struct {
	Every time.Duration
	Grace time.Duration
}

// Key is an Access Key's record. The key itself is never stored: only its
// hash, which this type does not carry.
type Key struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	IntegrationID string     `json:"integration"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     *time.Time `json:"expires_at"`
	RevokedAt     *time.Time `json:"revoked_at"`
	LastUsedAt    *time.Time `json:"last_used_at"`
	// ExchangeOnly keys are refused at the edge: they only get access
	// tokens at the token endpoint. In JSON only when true.
	ExchangeOnly bool `json:"exchange_only,omitempty"`
	// RotateEvery is how often the key is to be rolled; zero: as its
	// integration's Rotation says.
	RotateEvery time.Duration `json:"-"`
	// RotateDueAt is when the key is due to be rolled, by its own period or
	// its integration's; nil: never, or not computed. Stores leave it nil:
	// management fills it in.
	RotateDueAt *time.Time `json:"rotate_due,omitempty"`
}

// RotateDue returns when the key is due to be rolled given its
// integration's default period, and false when it never is.
func (k Key) RotateDue(integrationDefault time.Duration) (time.Time, bool) {
	every := k.RotateEvery
	if every == 0 {
		every = integrationDefault
	}
	if every <= 0 {
		return time.Time{}, false
	}
	return k.CreatedAt.Add(every), true
}

// DueForRotation reports whether the key is past RotateDueAt at now;
// false when it is never due (or RotateDueAt was not filled in).
func (k Key) DueForRotation(now time.Time) bool {
	return k.RotateDueAt != nil && !now.Before(*k.RotateDueAt)
}

// Status returns "revoked", "expired" or "active" as of now.
func (k Key) Status(now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return "revoked"
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return "expired"
	}
	return "active"
}

// Reasons a presented credential is refused, for errors.Is; ErrMalformed
// and an error wrapping ErrStoreUnavailable are the others. Their text is
// for logs, never for clients.
var (
	ErrUnknownKey = errors.New("unknown key")
	ErrRevoked    = errors.New("key revoked")
	ErrExpired    = errors.New("key expired")
	// ErrExchangeOnly: an exchange-only key presented at the edge, where
	// only its access tokens are good.
	ErrExchangeOnly = errors.New("exchange-only key presented at the edge")
)

// Credential is what authentication needs to know about a key: the record
// the verifier caches, looked up by the key's hash.
type Credential struct {
	KeyID         string
	KeyName       string
	IntegrationID string
	BaseURL       string
	CreatedAt     time.Time
	ExpiresAt     time.Time // zero: never
	RevokedAt     time.Time // zero: not revoked; a deleted key's deletion time
	ExchangeOnly  bool      // refused at the edge, good at the token endpoint only
}

// OlderThan reports whether the key was created more than maxAge before
// now; a zero maxAge or CreatedAt never is. Gateways with a max_key_age
// refuse such keys as expired.
func (c Credential) OlderThan(maxAge time.Duration, now time.Time) bool {
	return maxAge > 0 && !c.CreatedAt.IsZero() && now.Sub(c.CreatedAt) > maxAge
}

// ParseBaseURL checks that raw is an absolute http or https URL with a host
// and no query, fragment or credentials, as integrations need, and returns
// it with any trailing slash of its path removed.
func ParseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid base URL %q: %w", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("invalid base URL %q: scheme must be http or https", raw)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("invalid base URL %q: missing host", raw)
	case u.User != nil:
		return nil, fmt.Errorf("invalid base URL %q: credentials are not allowed in the URL", raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("invalid base URL %q: query and fragment are not allowed", raw)
	}
	if err := checkBaseURL(raw, u); err != nil {
		return nil, err
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}
