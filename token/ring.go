package token

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/keystore"
)

// RingConfig tunes a Ring; zero values take the defaults.
type RingConfig struct {
	SetConfig
	// SigningKeyTTL is how long a signing key signs tokens before the
	// next one takes over. Default DefaultSigningKeyTTL.
	SigningKeyTTL time.Duration
	// Refresh is how often the ring reloads the keys and rolls them when
	// due. Default a minute, or an eighth of SigningKeyTTL if less.
	Refresh time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Random is the source of key material; crypto/rand when nil.
	Random io.Reader
}

// unknownRefreshEvery bounds the reloads that tokens of an unknown kid
// cause: a forger sending made-up kids costs the store one read a second.
const unknownRefreshEvery = time.Second

// Ring keeps this gateway's snapshot of the shared signing keys and rolls
// them: when the newest key signs for less than three refresh periods
// more, a gateway stores the next generation, and a unique generation
// makes exactly one of several racing gateways succeed. A new key is
// signed with only after PublishDelay (two refresh periods), once every
// gateway has loaded it; an old one is kept for verification until its
// last token has expired, then pruned.
type Ring struct {
	store  keystore.SigningKeyStore
	cfg    RingConfig
	set    atomic.Pointer[KeySet]
	mu     sync.Mutex // one refresh at a time
	loaded time.Time  // last successful load, under mu
}

// NewRing returns a ring over store; call Refresh before use.
func NewRing(store keystore.SigningKeyStore, cfg RingConfig) (*Ring, error) {
	if cfg.SigningKeyTTL == 0 {
		cfg.SigningKeyTTL = DefaultSigningKeyTTL
	}
	if cfg.Refresh == 0 {
		cfg.Refresh = min(time.Minute, cfg.SigningKeyTTL/8)
	}
	if cfg.PublishDelay == 0 {
		cfg.PublishDelay = 2 * cfg.Refresh
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Random == nil {
		cfg.Random = rand.Reader
	}
	cfg.SetConfig = cfg.SetConfig.withDefaults()
	if cfg.SigningKeyTTL < 0 || cfg.Refresh <= 0 || cfg.MaxTTL < 0 {
		return nil, errors.New("signing key settings must be positive")
	}
	if cfg.SigningKeyTTL <= 4*cfg.Refresh {
		return nil, fmt.Errorf("signing_key_ttl %s must be more than four refresh periods (%s)", cfg.SigningKeyTTL, 4*cfg.Refresh)
	}
	r := &Ring{store: store, cfg: cfg}
	r.set.Store(&KeySet{byKID: map[string]verifyKey{}, issuer: cfg.Issuer, maxTTL: cfg.MaxTTL})
	return r, nil
}

// Refresh period, for the caller's loop.
func (r *Ring) Every() time.Duration { return r.cfg.Refresh }

// Keys returns the current snapshot.
func (r *Ring) Keys() *KeySet { return r.set.Load() }

// Refresh reloads the signing keys, stores the next generation when the
// newest is due to roll (or there is none), prunes keys whose tokens have
// all expired, and publishes the new snapshot. A key this gateway cannot
// open is reported in the error, but the snapshot is published anyway.
func (r *Ring) Refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refreshLocked(ctx)
}

func (r *Ring) refreshLocked(ctx context.Context) error {
	now := r.cfg.Now()
	keys, err := r.store.SigningKeys(ctx, now)
	if err != nil {
		return fmt.Errorf("loading signing keys: %w", err)
	}
	if r.due(keys, now) {
		var gen int64 = 1
		if n := len(keys); n > 0 {
			gen = keys[n-1].Generation + 1
		}
		k, err := NewSigningKey(r.cfg.Random, r.cfg.Secret, gen, now, r.cfg.SigningKeyTTL, r.cfg.MaxTTL)
		if err != nil {
			return err
		}
		if err := r.store.AddSigningKey(ctx, k); err != nil && !errors.Is(err, keystore.ErrSigningKeyTaken) {
			return fmt.Errorf("rolling signing key: %w", err)
		}
		// Whoever won, the keys are read again.
		if keys, err = r.store.SigningKeys(ctx, now); err != nil {
			return fmt.Errorf("loading signing keys: %w", err)
		}
		if _, err := r.store.PruneSigningKeys(ctx, now); err != nil {
			return fmt.Errorf("pruning signing keys: %w", err)
		}
	}
	set, setErr := NewKeySet(keys, r.cfg.SetConfig, now)
	if set == nil {
		return setErr
	}
	r.set.Store(set)
	r.loaded = now
	return setErr
}

// due reports whether the next signing key must be created: there is none,
// or the newest signs for less than three refresh periods more.
func (r *Ring) due(keys []keystore.SigningKey, now time.Time) bool {
	if len(keys) == 0 {
		return true
	}
	return !keys[len(keys)-1].SignUntil.After(now.Add(3 * r.cfg.Refresh))
}

// Verify verifies raw against the snapshot. A token of a kid the snapshot
// does not know makes the ring reload, at most once a second, in case
// another gateway has just rolled the key: then it is verified again.
func (r *Ring) Verify(ctx context.Context, raw string) (Claims, error) {
	c, _, err := r.verify(ctx, raw)
	return c, err
}

// verify is Verify that also returns the kid of the key that verified.
func (r *Ring) verify(ctx context.Context, raw string) (Claims, string, error) {
	c, kid, err := r.Keys().verify(raw, r.cfg.Now())
	if !errors.Is(err, ErrUnknownSigningKey) {
		return c, kid, err
	}
	if !r.mu.TryLock() {
		return c, kid, err // a refresh is under way; its answer comes too late for this token
	}
	stale := r.cfg.Now().Sub(r.loaded) >= unknownRefreshEvery
	if stale {
		_ = r.refreshLocked(ctx) // refused as unknown if the store cannot tell
	}
	r.mu.Unlock()
	if !stale {
		return c, kid, err
	}
	return r.Keys().verify(raw, r.cfg.Now())
}

// Mint returns a fresh token for the key keyID of integration, living ttl,
// with a random token id.
func (r *Ring) Mint(keyID, integration string, ttl time.Duration) (string, Claims, error) {
	var id [16]byte
	if _, err := io.ReadFull(r.cfg.Random, id[:]); err != nil {
		return "", Claims{}, fmt.Errorf("generating token id: %w", err)
	}
	return r.Keys().Mint(keyID, integration, encoding.EncodeToString(id[:]), ttl, r.cfg.Now())
}

// Run refreshes the ring every refresh period until ctx ends, reporting
// failures to onErr.
func (r *Ring) Run(ctx context.Context, onErr func(error)) {
	t := time.NewTicker(r.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.Refresh(ctx); err != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
	}
}

// Now returns now by the ring's clock.
func (r *Ring) Now() time.Time { return r.cfg.Now() }
