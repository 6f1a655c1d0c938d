package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/token"
	"github.com/keygate/keygate/verify"
)

// tokenCacheBytes is the memory budget of the cache of verified tokens.
const tokenCacheBytes = 16 << 20

// tokens is a runtime's share of the short-lived access tokens: the ring
// of signing keys it keeps current with the store, and the cache of
// verified tokens.
type tokens struct {
	ring  *token.Ring
	cache *token.Cache
	stop  func()
	done  chan struct{}
}

// startTokens loads (or, on a new store, creates) the signing keys and
// keeps rolling them. A signing key this gateway cannot open (it was
// sealed under another signing_key_secret) is logged: tokens of it still
// verify, and this gateway signs with none until the next key.
func (rt *Runtime) startTokens(ctx context.Context, cfg Config) error {
	ring, err := token.NewRing(rt.store, token.RingConfig{
		SetConfig:     token.SetConfig{MaxTTL: cfg.MaxTokenTTL, Secret: []byte(cfg.SigningKeySecret)},
		SigningKeyTTL: cfg.SigningKeyTTL,
		Now:           rt.Now,
	})
	if err != nil {
		return err
	}
	logger := zap.New(currentCore{src: &rt.logger}).Named("keygate.tokens")
	if err := ring.Refresh(ctx); err != nil {
		if !errors.Is(err, token.ErrSealed) {
			return fmt.Errorf("loading token signing keys: %w", err)
		}
		logger.Error("cannot open a token signing key: is signing_key_secret the same on every gateway?", zap.Error(err))
	}
	cache, err := token.NewCache(ring, tokenCacheBytes, rt.Now)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	t := &tokens{ring: ring, cache: cache, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		ring.Run(runCtx, func(err error) { logger.Warn("refreshing token signing keys", zap.Error(err)) })
	}()
	rt.tokens = t
	return nil
}

// stopTokens stops rolling the signing keys and releases the cache.
func (rt *Runtime) stopTokens() {
	if rt.tokens == nil {
		return
	}
	rt.tokens.stop()
	<-rt.tokens.done
	rt.tokens.cache.Close()
}

// errNoTokens: this runtime was made without tokens (see New).
var errNoTokens = errors.New("access tokens are not set up on this runtime")

// MintToken returns an access token for cred's key, living ttl (at most
// max_token_ttl), and its claims.
func (rt *Runtime) MintToken(cred keystore.Credential, ttl time.Duration) (string, token.Claims, error) {
	if rt.tokens == nil {
		return "", token.Claims{}, errNoTokens
	}
	return rt.tokens.ring.Mint(cred.KeyID, cred.IntegrationID, ttl)
}

// MintToken is Runtime.MintToken on the current runtime, with ttl cut to
// what is left of the key's life (its expiry, and max_key_age): a token
// never says it lives longer than its key, which refuses it from then on.
func (a *Authenticator) MintToken(cred keystore.Credential, ttl time.Duration) (string, token.Claims, error) {
	rt := a.CurrentRuntime()
	now := rt.Now()
	left := ttl
	if !cred.ExpiresAt.IsZero() {
		left = min(left, cred.ExpiresAt.Sub(now))
	}
	if a.MaxKeyAge > 0 && !cred.CreatedAt.IsZero() {
		left = min(left, cred.CreatedAt.Add(a.MaxKeyAge).Sub(now))
	}
	return rt.MintToken(cred, max(left.Truncate(time.Second), time.Second))
}

// JWKS returns the signing keys' public keys as a JSON Web Key Set.
func (rt *Runtime) JWKS() ([]byte, error) {
	if rt.tokens == nil {
		return nil, errNoTokens
	}
	return rt.tokens.ring.Keys().JWKS()
}

// verifyToken checks an access token and returns its key's credential by
// id from the verifier, unless the runtime is closed (see verify). When
// cachedOnly, both the token and its key come from the caches alone: no
// signature check, no lookup.
func (rt *Runtime) verifyToken(ctx context.Context, raw string, cachedOnly bool) (keystore.Credential, error) {
	rt.closing.RLock()
	defer rt.closing.RUnlock()
	if rt.closed {
		return keystore.Credential{}, fmt.Errorf("%w: %w", keystore.ErrStoreUnavailable, errClosed)
	}
	if rt.tokens == nil {
		return keystore.Credential{}, keystore.ErrMalformed
	}
	var v *token.Verified
	var err error
	if cachedOnly {
		var ok bool
		if v, ok = rt.tokens.cache.Cached(raw); !ok {
			return keystore.Credential{}, verify.ErrNotCached
		}
	} else {
		v, err = rt.tokens.cache.Verify(ctx, raw)
	}
	if err != nil {
		var owner keystore.Credential
		if v != nil { // expired: whose it was, for the log (its name if cached)
			owner = tokenOwner(v)
			known, _ := rt.verifier.VerifyKeyIDCached(v.IDHash, nil)
			owner.KeyName = known.KeyName
		}
		return owner, tokenRefusal(err)
	}
	var cred keystore.Credential
	if cachedOnly {
		cred, err = rt.verifier.VerifyKeyIDCached(v.IDHash, &v.Key)
	} else {
		cred, err = rt.verifier.VerifyKeyID(ctx, v.Claims.KeyID(), v.IDHash, &v.Key)
	}
	if errors.Is(err, keystore.ErrUnknownKey) {
		// The key is gone for good (its integration removed): its
		// tokens go with it.
		return tokenOwner(v), keystore.ErrRevoked
	}
	if err == nil && cred.IntegrationID != v.Claims.Integration {
		return cred, keystore.ErrRevoked
	}
	return cred, err
}

// tokenOwner is the key a token names, as far as the token says.
func tokenOwner(v *token.Verified) keystore.Credential {
	return keystore.Credential{KeyID: v.Claims.KeyID(), IntegrationID: v.Claims.Integration}
}

// tokenRefusal maps why a token was refused to the refusals of keys: an
// expired token is expired, anything else malformed (a forged or tampered
// token, or one of a signing key rolled out).
func tokenRefusal(err error) error {
	if errors.Is(err, token.ErrExpired) {
		return fmt.Errorf("%w: %w", keystore.ErrExpired, err)
	}
	return fmt.Errorf("%w: %w", keystore.ErrMalformed, err)
}

// UseTokens makes a runtime from New mint and verify access tokens with
// ring, on ring's clock: for tests of what sits on top of a runtime.
func (rt *Runtime) UseTokens(ring *token.Ring) error {
	cache, err := token.NewCache(ring, tokenCacheBytes, ring.Now)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	close(done)
	rt.tokens = &tokens{ring: ring, cache: cache, stop: func() {}, done: done}
	return nil
}

// TokenKeys returns the current snapshot of the signing keys, or nil.
func (rt *Runtime) TokenKeys() *token.KeySet {
	if rt.tokens == nil {
		return nil
	}
	return rt.tokens.ring.Keys()
}
