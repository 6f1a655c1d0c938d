// Package gateway is keygate's runtime, without Caddy: it opens a key
// store by URL, keeps the caching verifier in front of it current with
// the store's change feed, records the uses of keys, and authenticates
// the credentials clients present (see Authenticator). The Caddy app
// shares one Runtime per Config across config reloads.
package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/verify"
)

// OpenTimeout bounds connecting to the key store (and migrating it) in
// Open, so that an unreachable database fails instead of hanging.
const OpenTimeout = 15 * time.Second

// Config is what a Runtime is built with: the database and every setting
// of the verifier. It is comparable, so that it can key a pool of shared
// runtimes: a reload that changes any of it gets a runtime that honours
// it. Zero values take the defaults.
type Config struct {
	// Database is the key store's URL (see keystore.Open).
	Database  string
	CacheSize int64
	// CacheTTL 0: keystore.DefaultFeedTTL for a store with a change feed,
	// verify.DefaultTTL for one without.
	CacheTTL             time.Duration
	NegativeTTL          time.Duration
	LookupTimeout        time.Duration
	StaleTTL             time.Duration
	MaxConcurrentLookups int
	// MaxLookupRate is in lookups a second; negative: no limit.
	MaxLookupRate int
	// UsageInterval is how often key uses are written to last_used_at.
	UsageInterval time.Duration
	// Version is keygate's version as the fleet table shows it; empty:
	// the main module's.
	Version string
	// MaxTokenTTL bounds an access token's lifetime; SigningKeyTTL is how
	// long a signing key signs; SigningKeySecret seals the signing keys'
	// private keys in the store (empty: stored plain). See token.Ring.
	MaxTokenTTL      time.Duration
	SigningKeyTTL    time.Duration
	SigningKeySecret string
}

// Runtime is a key store, the verifier in front of it, the follower of
// its change feed and the recorder of key uses. Requests and management
// use it through Authenticate, Drop and WithStore, which Destruct waits
// for: it never closes the cache or the store under them.
type Runtime struct {
	store    keystore.Store
	loc      keystore.Location
	verifier *verify.Verifier
	ttl      time.Duration // the verifier's cache TTL
	staleTTL time.Duration

	// The change feed's follower, when the store has one (see follow),
	// which records self in the fleet table and the live count it reads
	// back in live.
	stopFollow func()
	followDone chan struct{}
	self       keystore.Instance
	live       atomic.Int64
	// logger is the running config's logger, which the follower logs to.
	logger        atomic.Pointer[zap.Logger]
	now           func() time.Time
	staleWarnedAt atomic.Int64 // Unix nanoseconds; see warnIfStale

	// closing is held for reading by each verification and for writing
	// by Destruct, which sets closed: see verify.
	closing sync.RWMutex
	closed  bool

	// usage gathers the uses of keys for last_used_at: see usage.go.
	usage *verify.UsageRecorder

	// tokens mints and verifies access tokens: see tokens.go.
	tokens *tokens
}

// Open opens the store of cfg.Database, bounded by OpenTimeout, builds the
// verifier in front of it with metrics, and, if the store keeps a change
// feed, starts following it, logging to logger (see SetLogger). Its
// errors have any database password removed.
func Open(ctx context.Context, cfg Config, metrics verify.Metrics, logger *zap.Logger) (*Runtime, error) {
	rt, err := open(ctx, cfg, metrics, logger)
	return rt, keystore.Redact(err, cfg.Database)
}

func open(ctx context.Context, cfg Config, metrics verify.Metrics, logger *zap.Logger) (*Runtime, error) {
	ctx, cancel := context.WithTimeout(ctx, OpenTimeout)
	defer cancel()
	store, loc, err := keystore.Open(ctx, cfg.Database)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("database did not answer within %s: %w", OpenTimeout, err)
		}
		return nil, err
	}
	follower, followed := store.(keystore.Follower)
	ttl := cfg.CacheTTL
	switch {
	case ttl == 0 && followed:
		ttl = keystore.DefaultFeedTTL
	case ttl == 0:
		ttl = verify.DefaultTTL
	}
	verifier, err := verify.NewVerifier(store, verify.VerifierConfig{
		MaxCost:              cfg.CacheSize,
		TTL:                  ttl,
		NegativeTTL:          cfg.NegativeTTL,
		LookupTimeout:        cfg.LookupTimeout,
		StaleTTL:             cfg.StaleTTL,
		MaxConcurrentLookups: cfg.MaxConcurrentLookups,
		MaxLookupRate:        float64(cfg.MaxLookupRate),
		Metrics:              metrics,
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	staleTTL := cfg.StaleTTL
	if staleTTL == 0 {
		staleTTL = verify.DefaultStaleTTL
	}
	rt := &Runtime{store: store, loc: loc, verifier: verifier, ttl: ttl, staleTTL: staleTTL, now: time.Now}
	rt.logger.Store(logger)
	if followed {
		if rt.self, err = newInstance(cfg.Version, staleTTL, rand.Reader, rt.now); err != nil {
			verifier.Close()
			store.Close()
			return nil, err
		}
	}
	if err := rt.startTokens(ctx, cfg); err != nil {
		verifier.Close()
		store.Close()
		return nil, err
	}
	if followed {
		rt.follow(follower)
	}
	rt.startUsage(cfg.UsageInterval, metrics)
	return rt, nil
}

// New returns a runtime over store and v that follows no feed and records
// no uses: for tests of what sits on top of a runtime. store may be nil
// when only verification is used, v when only the store is.
func New(store keystore.Store, v *verify.Verifier) *Runtime {
	rt := &Runtime{store: store, verifier: v, now: time.Now}
	rt.logger.Store(zap.NewNop())
	return rt
}

// Destruct stops the follower and closes the verifier and the store, after
// the verifications and store uses under way. Its signature is
// caddy.Destructor's.
func (rt *Runtime) Destruct() error {
	rt.closing.Lock()
	rt.closed = true
	rt.closing.Unlock()
	rt.stopFollowing()
	rt.stopUsage()
	rt.stopTokens()
	if rt.verifier != nil {
		rt.verifier.Close()
	}
	if rt.store != nil {
		rt.store.Close()
	}
	return nil
}

// SetLogger makes the follower and the usage recorder log to logger: the
// running config's, whose outputs are open.
func (rt *Runtime) SetLogger(logger *zap.Logger) { rt.logger.Store(logger) }

// Location tells where the store is, without credentials.
func (rt *Runtime) Location() keystore.Location { return rt.loc }

// CacheTTL is the verifier's cache TTL, defaults applied.
func (rt *Runtime) CacheTTL() time.Duration { return rt.ttl }

// Followed reports whether the store's change feed is followed.
func (rt *Runtime) Followed() bool { return rt.stopFollow != nil }

// FeedLag returns how long ago the change feed was last known healthy,
// and false when no feed has reported.
func (rt *Runtime) FeedLag(now time.Time) (time.Duration, bool) { return rt.verifier.FeedLag(now) }

// Now returns now by the runtime's clock.
func (rt *Runtime) Now() time.Time {
	if rt.now != nil {
		return rt.now()
	}
	return time.Now()
}

// WithStore runs fn with the store unless it is closed, holding off
// Destruct meanwhile. fn may drop keys from the cache with drop, which is
// Drop without taking the lock WithStore holds again (a second read lock
// would wait behind a Destruct waiting for the first).
func (rt *Runtime) WithStore(fn func(s keystore.Store, drop func(keyID string)) error) error {
	rt.closing.RLock()
	defer rt.closing.RUnlock()
	if rt.closed {
		return fmt.Errorf("%w: %w", keystore.ErrStoreUnavailable, errClosed)
	}
	return fn(rt.store, func(keyID string) { rt.drop(keyID) })
}

// Drop drops the cached entries of the key with this public id, or every
// entry when keyID is empty, and returns how many there were.
func (rt *Runtime) Drop(keyID string) (int, error) {
	rt.closing.RLock()
	defer rt.closing.RUnlock()
	if rt.closed {
		return 0, errClosed
	}
	return rt.drop(keyID), nil
}

// drop is Drop under the caller's read lock.
func (rt *Runtime) drop(keyID string) int {
	if rt.verifier == nil {
		return 0
	}
	if keyID != "" {
		return rt.verifier.InvalidateKeyID(keyID)
	}
	n := rt.verifier.Len()
	rt.verifier.DropAll()
	return n
}
