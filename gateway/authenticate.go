package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/token"
)

// errClosed says a runtime was closed, by a reload, under its user.
var errClosed = errors.New("the key store of this config was closed by a reload")

// Authenticator authenticates the credentials presented to one config's
// handlers, with that config's rules, on its runtime.
type Authenticator struct {
	// Runtime is the config's runtime.
	Runtime *Runtime
	// KeyPrefix is the prefix of the access keys accepted.
	KeyPrefix string
	// MaxKeyAge refuses keys created longer ago as expired; 0: no limit.
	MaxKeyAge time.Duration
	// Logger receives the warnings of keys served while the change feed
	// is down.
	Logger *zap.Logger
	// Fallback returns the runtime to use instead when Runtime was
	// closed: the running config's. On a reload, Caddy stops the old
	// config's servers without waiting for their requests, then cleans
	// the config up, which closes its runtime when the new config uses
	// another one. nil, or a nil result: none.
	Fallback func() *Runtime
}

// A kind is one kind of credential that clients present.
type kind interface {
	// claims reports whether credential is of this kind, by its form.
	claims(a *Authenticator, credential string) bool
	// verify returns the key that credential stands for, as rt knows it
	// (from its cache alone when cachedOnly), or why it is refused: see
	// Authenticate and AuthenticateCached.
	verify(ctx context.Context, a *Authenticator, rt *Runtime, credential string, cachedOnly bool) (keystore.Credential, error)
}

// kinds are the kinds of credential, in the order they are tried. Access
// keys come last: whatever no other kind claims is an access key or
// malformed.
var kinds = [...]kind{accessToken{}, accessKey{}}

// Kind names the kind of credential, for the auth log's `credential`
// field: "token" or "key".
func Kind(credential string) string {
	if token.IsToken(credential) {
		return "token"
	}
	return "key"
}

// Authenticate returns the key that credential (the token of a Bearer
// header: an access key or an access token) stands for, or why it is
// refused: keystore.ErrMalformed, keystore.ErrUnknownKey,
// keystore.ErrRevoked, keystore.ErrExpired or keystore.ErrExchangeOnly
// (with the key, for the log), or an error wrapping
// keystore.ErrStoreUnavailable when the key is not cached and the store
// cannot answer. A key older than MaxKeyAge is refused with
// keystore.ErrExpired, and so are its tokens. An accepted key's use is
// recorded for last_used_at.
func (a *Authenticator) Authenticate(ctx context.Context, credential string) (keystore.Credential, error) {
	return a.authenticate(ctx, credential, false)
}

// AuthenticateCached is Authenticate from the cache alone: it never asks
// the store, and refuses a key that is not cached with
// verify.ErrNotCached. It is for a client over the failed-auth limit: a
// key valid in the cache still gets through, anything else costs no
// lookup.
func (a *Authenticator) AuthenticateCached(ctx context.Context, credential string) (keystore.Credential, error) {
	return a.authenticate(ctx, credential, true)
}

func (a *Authenticator) authenticate(ctx context.Context, credential string, cachedOnly bool) (keystore.Credential, error) {
	var k kind
	for _, k = range kinds {
		if k.claims(a, credential) {
			break
		}
	}
	return a.authenticateKind(ctx, k, credential, cachedOnly, k == accessKey{})
}

// AuthenticateKey is Authenticate for an access key alone, exchange-only
// ones included: what the token endpoint and keygate_rotate take. A token
// is malformed there.
func (a *Authenticator) AuthenticateKey(ctx context.Context, key string) (keystore.Credential, error) {
	if token.IsToken(key) {
		return keystore.Credential{}, keystore.ErrMalformed
	}
	return a.authenticateKind(ctx, accessKey{}, key, false, false)
}

// CurrentRuntime returns the runtime to use now: a.Runtime, or the
// fallback's when a reload closed it.
func (a *Authenticator) CurrentRuntime() *Runtime {
	if a.Runtime.isClosed() && a.Fallback != nil {
		if next := a.Fallback(); next != nil {
			return next
		}
	}
	return a.Runtime
}

// authenticateKind verifies credential as of kind k and records the use
// of an accepted key. With refuseExchangeOnly, an exchange-only key is
// refused, and is no use of the key either.
func (a *Authenticator) authenticateKind(ctx context.Context, k kind, credential string, cachedOnly, refuseExchangeOnly bool) (keystore.Credential, error) {
	rt := a.Runtime
	cred, err := k.verify(ctx, a, rt, credential, cachedOnly)
	if errors.Is(err, errClosed) && a.Fallback != nil {
		if next := a.Fallback(); next != nil {
			rt = next
			cred, err = k.verify(ctx, a, rt, credential, cachedOnly)
		}
	}
	if err != nil {
		return cred, err
	}
	rt.warnIfStale(a.Logger)
	now := rt.Now()
	if cred.OlderThan(a.MaxKeyAge, now) {
		return cred, keystore.ErrExpired
	}
	if refuseExchangeOnly && cred.ExchangeOnly {
		return cred, keystore.ErrExchangeOnly
	}
	rt.recordUse(cred.KeyID, now)
	return cred, nil
}

// verify asks the verifier, unless the runtime is closed: Destruct waits
// for the verifications under way, and those that come after it get
// errClosed, never a closed cache or pool.
func (rt *Runtime) verify(ctx context.Context, hash keystore.Hash, cachedOnly bool) (keystore.Credential, error) {
	rt.closing.RLock()
	defer rt.closing.RUnlock()
	if rt.closed {
		return keystore.Credential{}, fmt.Errorf("%w: %w", keystore.ErrStoreUnavailable, errClosed)
	}
	if cachedOnly {
		return rt.verifier.VerifyCached(hash)
	}
	return rt.verifier.Verify(ctx, hash)
}

// isClosed reports whether Destruct ran.
func (rt *Runtime) isClosed() bool {
	rt.closing.RLock()
	defer rt.closing.RUnlock()
	return rt.closed
}
