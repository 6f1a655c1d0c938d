// Package caddymodule is the Caddy glue of keygate: the keygate app, the
// authentication handler, the dynamic upstream source and their Caddyfile
// syntax. The domain — keys, stores, the caching verifier — lives in
// package keystore, which knows nothing of Caddy.
package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
)

func init() {
	caddy.RegisterModule(App{})
}

// openTimeout bounds connecting to the key store (and migrating it) while a
// config is provisioned, so that an unreachable database fails the config
// instead of hanging it.
const openTimeout = 15 * time.Second

// stores shares open key stores and their verifiers across config reloads,
// so that a reload keeps the cache warm and the connections open.
var stores = caddy.NewUsagePool()

// App is the keygate app: it owns the key store (PostgreSQL) and the
// in-memory cache of key records in front of it, which every keygate handler
// of the config uses. Configure it with the `keygate` global option; when
// the config has none, handlers get an app with the default settings, whose
// database comes from the KEYGATE_DATABASE_URL environment variable.
//
// The store, the cache and the listener of the store's change feed, which
// applies revocations to the cache as they commit, are shared across config
// reloads as long as the database and the cache settings stay the same.
type App struct {
	// The URL of the key store: a PostgreSQL server, such as
	// `postgres://keygate:secret@db:5432/keygate`, which several gateways
	// may share, or an SQLite file on this machine, `sqlite:PATH`.
	// `{env.*}` placeholders are resolved when the config is loaded. When
	// empty, the KEYGATE_DATABASE_URL environment variable is used; if that
	// is empty too, the embedded default store: the SQLite file
	// keygate/keygate.db in Caddy's data directory, which the keygate
	// command line also uses by default. The store in use is logged at
	// start; the password never is.
	Database string `json:"database,omitempty"`

	// The memory budget of the key cache in bytes, bookkeeping included.
	// Default: 64 MiB.
	CacheSize int64 `json:"cache_size,omitempty"`

	// How long a key record read from the store is trusted before it is
	// read again. Revocations reach the cache through the store's change
	// feed — within milliseconds with PostgreSQL, within the 50ms poll with
	// SQLite — and this is only a safety backstop: default 10m. With a
	// store that keeps no change feed, a revocation reaches this gateway
	// within this time at worst: default 30s.
	CacheTTL caddy.Duration `json:"cache_ttl,omitempty"`

	// How long keys already in cache stay valid while the change feed is
	// down (the database unreachable, say), counted from the last moment it
	// was known healthy. Past it, every key is read from the store again,
	// and refused with 503 while the store cannot answer. Longer keeps
	// known clients served through an outage, but a revocation made during
	// it takes effect that much later; shorter is safer and fails sooner.
	// Keep it well above the feed's one-second heartbeat. Default: 30s.
	StaleTTL caddy.Duration `json:"stale_ttl,omitempty"`

	// How long a well-formed but unknown key is remembered as unknown, so
	// that repeated attempts with it do not each cost a query. Default: 5s.
	NegativeTTL caddy.Duration `json:"negative_ttl,omitempty"`

	// The longest a single key store lookup may take before the request is
	// answered with 503. Default: 3s.
	LookupTimeout caddy.Duration `json:"lookup_timeout,omitempty"`

	// The prefix of the keys this gateway accepts, before the `_`: 1 to 16
	// lowercase letters or digits. A key with another prefix is refused
	// without a lookup. Default: `kg`.
	KeyPrefix string `json:"key_prefix,omitempty"`

	// The longest a key may live, counted from its creation: older keys
	// are refused as expired (reason `expired` in the log), whatever
	// their own expiry. The enforcement side of rolling keys at a regular
	// interval; `keygate keys list --max-key-age` shows the keys near it.
	// Default: 0, no limit.
	MaxKeyAge caddy.Duration `json:"max_key_age,omitempty"`

	// How often the uses of keys are written to the store's
	// last_used_at: uses are gathered in memory, and written in one
	// statement per interval (and at shutdown), so that requests cost no
	// database write. Default: 5s.
	LastUsedInterval caddy.Duration `json:"last_used_interval,omitempty"`

	// Bounds on what bad keys may cost: see Limits.
	Limits

	shared   *sharedStore
	poolKey  storeKey
	targets  *targetCache
	logger   *zap.Logger
	running  *runningApp // set while started, for the admin API
	released bool        // Cleanup released shared
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "keygate",
		New: func() caddy.Module { return new(App) },
	}
}

// storeKey identifies a shared store: the database and every setting the
// verifier is built with, so that a reload changing the cache settings gets
// a verifier that honours them.
type storeKey struct {
	database      string
	cacheSize     int64
	ttl, negTTL   time.Duration // ttl 0: the default for the store
	lookupTimeout time.Duration
	staleTTL      time.Duration
	maxLookups    int
	maxLookupRate int // lookups a second; negative: no limit
	usageInterval time.Duration
}

// sharedStore is a key store, the verifier in front of it and the
// follower of its change feed, shared by every config that uses the same
// storeKey.
type sharedStore struct {
	store    keystore.Store
	verifier *keystore.Verifier
	ttl      time.Duration // the verifier's cache TTL
	staleTTL time.Duration

	// The change feed's follower, when the store has one (see follow).
	stopFollow func()
	followDone chan struct{}
	// logger is the running config's logger, which the follower logs to.
	logger        atomic.Pointer[zap.Logger]
	now           func() time.Time
	staleWarnedAt atomic.Int64 // Unix nanoseconds; see warnIfStale

	// closing is held for reading by each verification and for writing
	// by Destruct, which sets closed: see verify.
	closing sync.RWMutex
	closed  bool

	// usage gathers the uses of keys for last_used_at: see usage.go.
	usage *keystore.UsageRecorder
}

// Destruct stops the follower and closes the verifier and the store once
// no config uses them, after the verifications under way.
func (s *sharedStore) Destruct() error {
	s.closing.Lock()
	s.closed = true
	s.closing.Unlock()
	s.stopFollowing()
	s.stopUsage()
	s.verifier.Close()
	s.store.Close()
	return nil
}

// Provision resolves the settings and opens the key store, or reuses the
// one a previous config opened with the same settings.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.targets = &targetCache{admin: adminEndpointsOf(ctx)}

	database := caddy.NewReplacer().ReplaceKnown(a.Database, "")
	if database == "" {
		database = os.Getenv(envDatabaseURL)
	}
	database, isDefault, err := resolveDatabaseURL(database)
	if err != nil {
		return err
	}
	loc, err := parseDatabaseURL(database)
	if err != nil {
		return fmt.Errorf("keygate database: %w", err)
	}
	if err := a.applyDefaults(); err != nil {
		return err
	}
	key := storeKey{
		database:      database,
		cacheSize:     a.CacheSize,
		ttl:           time.Duration(a.CacheTTL),
		negTTL:        time.Duration(a.NegativeTTL),
		lookupTimeout: time.Duration(a.LookupTimeout),
		staleTTL:      time.Duration(a.StaleTTL),
		maxLookups:    a.MaxConcurrentLookups,
		maxLookupRate: a.MaxLookupRate,
		usageInterval: time.Duration(a.LastUsedInterval),
	}
	val, loaded, err := stores.LoadOrNew(key, func() (caddy.Destructor, error) {
		return openSharedStore(ctx, key, a.logger)
	})
	if err != nil {
		return fmt.Errorf("opening key store: %w", redact(err, database))
	}
	a.shared, a.poolKey = val.(*sharedStore), key
	if err := metrics.register(ctx.GetMetricsRegistry(), a.shared.verifier, a.shared.stopFollow != nil); err != nil {
		return err
	}
	a.CacheTTL = caddy.Duration(a.shared.ttl)
	if !loaded {
		a.logger.Info("key store opened", append(loc.logFields(),
			zap.Bool("default_store", isDefault),
			zap.Int64("cache_size", a.CacheSize),
			zap.Duration("cache_ttl", a.shared.ttl),
			zap.Duration("negative_ttl", key.negTTL),
			zap.Duration("lookup_timeout", key.lookupTimeout),
			zap.Duration("stale_ttl", key.staleTTL),
			zap.Bool("change_feed", a.shared.stopFollow != nil))...)
	}
	return nil
}

// applyDefaults fills unset settings with their defaults and checks them.
func (a *App) applyDefaults() error {
	if err := a.Limits.provision(); err != nil {
		return err
	}
	if a.CacheSize == 0 {
		a.CacheSize = keystore.DefaultCacheBytes
	}
	// cache_ttl's default depends on the store: see openSharedStore.
	if a.StaleTTL == 0 {
		a.StaleTTL = caddy.Duration(keystore.DefaultStaleTTL)
	}
	if a.NegativeTTL == 0 {
		a.NegativeTTL = caddy.Duration(keystore.DefaultNegativeTTL)
	}
	if a.LookupTimeout == 0 {
		a.LookupTimeout = caddy.Duration(keystore.DefaultLookupTimeout)
	}
	if a.KeyPrefix == "" {
		a.KeyPrefix = keystore.DefaultPrefix
	}
	if a.LastUsedInterval == 0 {
		a.LastUsedInterval = caddy.Duration(keystore.DefaultUsageInterval)
	}
	switch {
	case a.CacheSize < 0:
		return fmt.Errorf("cache_size must be positive, got %d", a.CacheSize)
	case a.CacheTTL < 0:
		return fmt.Errorf("cache_ttl must be positive, got %s", time.Duration(a.CacheTTL))
	case a.NegativeTTL < 0:
		return fmt.Errorf("negative_ttl must be positive, got %s", time.Duration(a.NegativeTTL))
	case a.LookupTimeout < 0:
		return fmt.Errorf("lookup_timeout must be positive, got %s", time.Duration(a.LookupTimeout))
	case a.StaleTTL < 0:
		return fmt.Errorf("stale_ttl must be positive, got %s", time.Duration(a.StaleTTL))
	case a.MaxKeyAge < 0:
		return fmt.Errorf("max_key_age must be positive, got %s", time.Duration(a.MaxKeyAge))
	case a.LastUsedInterval < 0:
		return fmt.Errorf("last_used_interval must be positive, got %s", time.Duration(a.LastUsedInterval))
	}
	return checkKeyPrefix(a.KeyPrefix)
}

// checkKeyPrefix fails unless p can prefix keys.
func checkKeyPrefix(p string) error {
	if !keystore.ValidPrefix(p) {
		return fmt.Errorf("invalid key_prefix %q: want 1 to 16 lowercase letters or digits", p)
	}
	return nil
}

// openSharedStore opens the store of key.database, bounded by openTimeout,
// builds the verifier in front of it and, if the store keeps a change
// feed, starts following it, logging to logger.
func openSharedStore(ctx context.Context, key storeKey, logger *zap.Logger) (*sharedStore, error) {
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	store, err := openStore(ctx, key.database)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("database did not answer within %s: %w", openTimeout, err)
		}
		return nil, err
	}
	follower, followed := store.(keystore.Follower)
	ttl := key.ttl
	switch {
	case ttl == 0 && followed:
		ttl = keystore.DefaultFeedTTL
	case ttl == 0:
		ttl = keystore.DefaultTTL
	}
	verifier, err := keystore.NewVerifier(store, keystore.VerifierConfig{
		MaxCost:              key.cacheSize,
		TTL:                  ttl,
		NegativeTTL:          key.negTTL,
		LookupTimeout:        key.lookupTimeout,
		StaleTTL:             key.staleTTL,
		MaxConcurrentLookups: key.maxLookups,
		MaxLookupRate:        float64(key.maxLookupRate),
		Metrics:              metrics.verifier(),
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	s := &sharedStore{store: store, verifier: verifier, ttl: ttl, staleTTL: key.staleTTL, now: time.Now}
	s.logger.Store(logger)
	if followed {
		s.follow(follower)
	}
	s.startUsage(key.usageInterval)
	return s, nil
}

// Start implements caddy.App; the store is opened by Provision. The
// shared store's follower logs to this config's logger from now on, and
// the admin API acts on this app.
func (a *App) Start() error {
	a.shared.logger.Store(a.logger)
	a.running = &runningApp{shared: a.shared, logger: a.logger}
	current.Store(a.running)
	return nil
}

// Stop implements caddy.App; the store is released by Cleanup, once the
// config that replaces this one is running.
func (a *App) Stop() error {
	current.CompareAndSwap(a.running, nil)
	return nil
}

// Cleanup releases this config's use of the shared store, closing it when
// no config uses it any more.
func (a *App) Cleanup() error {
	// a.shared stays set: the old config's servers may still be finishing
	// requests, which Verify then hands to the running config's store.
	if a.shared == nil || a.released {
		return nil
	}
	a.released = true
	_, err := stores.Delete(a.poolKey)
	return err
}

// Prefix returns the prefix of the keys this gateway accepts.
func (a *App) Prefix() string { return a.KeyPrefix }

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
	_ caddy.Destructor   = (*sharedStore)(nil)
)
