package portal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// csrfLifetime is how long a page's forms can be submitted.
const csrfLifetime = 12 * time.Hour

// csrfKey mints and checks CSRF tokens. A token is
// "<unix seconds>.<HMAC-SHA256(secret, user, seconds)>", in base64url: it
// is bound to the authenticated user and to the time it was made, so a
// token seen by one user is worth nothing to another, and expires. No
// server state: any instance holding the secret checks it, and an attacker
// on another origin can neither read a page's token (same-origin policy)
// nor compute one.
type csrfKey struct{ secret []byte }

func newCSRFKey(secret []byte) (csrfKey, error) {
	if len(secret) < 32 {
		return csrfKey{}, errors.New("the CSRF secret must have at least 32 bytes")
	}
	return csrfKey{secret: secret}, nil
}

// token returns a token for user, made at now.
func (k csrfKey) token(user string, now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	return ts + "." + base64.RawURLEncoding.EncodeToString(k.mac(user, ts))
}

// valid reports whether tok is a token of user made less than
// csrfLifetime before now.
func (k csrfKey) valid(tok, user string, now time.Time) bool {
	ts, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	made := time.Unix(sec, 0)
	if now.Before(made.Add(-time.Minute)) || now.Sub(made) > csrfLifetime {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	return err == nil && hmac.Equal(got, k.mac(user, ts))
}

func (k csrfKey) mac(user, ts string) []byte {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte("keygate portal csrf\x00"))
	m.Write([]byte(strconv.Itoa(len(user))))
	m.Write([]byte{0})
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write([]byte(ts))
	return m.Sum(nil)
}
