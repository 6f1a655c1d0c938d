// Package caddymodule is the Caddy glue of keygate: the keygate app, the
// authentication handler, the dynamic upstream source, their Caddyfile
// syntax, the admin API routes and the metrics. None of the packages
// below it imports Caddy: keystore (keys, records, stores), verify (the
// caching verifier), gateway (the runtime the app shares across reloads)
// and manage (the management operations); the command line is in
// caddymodule/cli.
package caddymodule

import (
	"fmt"
	"os"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/token"
	"github.com/keygate/keygate/verify"
)

func init() {
	caddy.RegisterModule(App{})
}

// stores shares the gateway runtimes (open key stores and their
// verifiers) across config reloads, so that a reload keeps the cache warm
// and the connections open.
var stores = caddy.NewUsagePool()

// App is the keygate app: it owns the key store and the in-memory cache of
// key records in front of it (a gateway.Runtime), which every keygate
// handler of the config uses. Configure it with the `keygate` global
// option; when the config has none, handlers get an app with the default
// settings, whose database comes from the KEYGATE_DATABASE_URL environment
// variable, else the embedded default store.
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
	// feed — within milliseconds with PostgreSQL, within about 10ms with
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

	// The longest an access token may live: tokens issued by any
	// keygate_token endpoint are bounded by it (their own token_ttl is at
	// most this), and a token claiming a longer life is refused. Signing
	// keys are kept this long after they stop signing, for the tokens
	// they signed. Default: 1h.
	MaxTokenTTL caddy.Duration `json:"max_token_ttl,omitempty"`

	// How long a token signing key signs before the next one takes over.
	// The gateways sharing the key store create and roll the signing keys
	// themselves: one of them stores the next key a few minutes before
	// the current one ends, every gateway loads it, and tokens are signed
	// with it once all have. Default: 7d.
	SigningKeyTTL caddy.Duration `json:"signing_key_ttl,omitempty"`

	// A secret that seals the signing keys' private keys in the key store
	// (AES-256-GCM), so that reading the database is not enough to mint
	// tokens. Use a `{env.*}` placeholder; every gateway of the store
	// needs the same one. At least 32 bytes once its placeholders are
	// replaced; one that resolves to nothing (an unset variable) is an
	// error. A gateway without it (or with another) still verifies tokens
	// but cannot issue them. Default: none, the private keys are stored as
	// they are, and a keygate_token endpoint warns of it when it starts.
	SigningKeySecret string `json:"signing_key_secret,omitempty"`

	// Bounds on what bad keys may cost: see Limits.
	Limits

	runtime  *gateway.Runtime
	auth     *gateway.Authenticator
	poolKey  gateway.Config
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

// Provision resolves the settings and opens the key store, or reuses the
// one a previous config opened with the same settings.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.targets = &targetCache{admin: adminEndpointsOf(ctx)}

	database := caddy.NewReplacer().ReplaceKnown(a.Database, "")
	if database == "" {
		database = os.Getenv(EnvDatabaseURL)
	}
	database, isDefault, err := ResolveDatabaseURL(database)
	if err != nil {
		return err
	}
	if _, err := keystore.ParseURL(database); err != nil {
		return fmt.Errorf("keygate database: %w", err)
	}
	if err := a.applyDefaults(); err != nil {
		return err
	}
	secret, err := resolveSigningKeySecret(a.SigningKeySecret)
	if err != nil {
		return err
	}
	cfg := gateway.Config{
		Database:             database,
		CacheSize:            a.CacheSize,
		CacheTTL:             time.Duration(a.CacheTTL),
		NegativeTTL:          time.Duration(a.NegativeTTL),
		LookupTimeout:        time.Duration(a.LookupTimeout),
		StaleTTL:             time.Duration(a.StaleTTL),
		MaxConcurrentLookups: a.MaxConcurrentLookups,
		MaxLookupRate:        a.MaxLookupRate,
		UsageInterval:        time.Duration(a.LastUsedInterval),
		Version:              caddy.CustomVersion, // what `make build` stamps
		MaxTokenTTL:          time.Duration(a.MaxTokenTTL),
		SigningKeyTTL:        time.Duration(a.SigningKeyTTL),
		SigningKeySecret:     secret,
	}
	val, loaded, err := stores.LoadOrNew(cfg, func() (caddy.Destructor, error) {
		return gateway.Open(ctx, cfg, metrics.verifier(), a.logger)
	})
	if err != nil {
		return fmt.Errorf("opening key store: %w", err)
	}
	rt := val.(*gateway.Runtime)
	a.bind(rt, cfg)
	var feed followedRuntime
	if rt.Followed() {
		feed = rt
	}
	if err := metrics.register(ctx.GetMetricsRegistry(), feed); err != nil {
		return err
	}
	a.CacheTTL = caddy.Duration(rt.CacheTTL())
	if !loaded {
		a.logger.Info("key store opened", append(rt.Location().LogFields(),
			zap.Bool("default_store", isDefault),
			zap.Int64("cache_size", a.CacheSize),
			zap.Duration("cache_ttl", rt.CacheTTL()),
			zap.Duration("negative_ttl", cfg.NegativeTTL),
			zap.Duration("lookup_timeout", cfg.LookupTimeout),
			zap.Duration("stale_ttl", cfg.StaleTTL),
			zap.Bool("change_feed", rt.Followed()))...)
	}
	return nil
}

// bind makes the app authenticate with rt, pooled under cfg.
func (a *App) bind(rt *gateway.Runtime, cfg gateway.Config) {
	a.runtime, a.poolKey = rt, cfg
	a.auth = &gateway.Authenticator{
		Runtime:   rt,
		KeyPrefix: a.KeyPrefix,
		MaxKeyAge: time.Duration(a.MaxKeyAge),
		Logger:    a.logger,
		Fallback:  runningRuntime,
	}
}

// applyDefaults fills unset settings with their defaults and checks them.
func (a *App) applyDefaults() error {
	if err := a.Limits.provision(); err != nil {
		return err
	}
	if a.CacheSize == 0 {
		a.CacheSize = verify.DefaultCacheBytes
	}
	// cache_ttl's default depends on the store: see gateway.Open.
	if a.StaleTTL == 0 {
		a.StaleTTL = caddy.Duration(verify.DefaultStaleTTL)
	}
	if a.NegativeTTL == 0 {
		a.NegativeTTL = caddy.Duration(verify.DefaultNegativeTTL)
	}
	if a.LookupTimeout == 0 {
		a.LookupTimeout = caddy.Duration(verify.DefaultLookupTimeout)
	}
	if a.KeyPrefix == "" {
		a.KeyPrefix = keystore.DefaultPrefix
	}
	if a.LastUsedInterval == 0 {
		a.LastUsedInterval = caddy.Duration(verify.DefaultUsageInterval)
	}
	if a.MaxTokenTTL == 0 {
		a.MaxTokenTTL = caddy.Duration(token.DefaultMaxTTL)
	}
	if a.SigningKeyTTL == 0 {
		a.SigningKeyTTL = caddy.Duration(token.DefaultSigningKeyTTL)
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
	case a.MaxTokenTTL < caddy.Duration(time.Second):
		return fmt.Errorf("max_token_ttl must be at least 1s, got %s", time.Duration(a.MaxTokenTTL))
	case a.SigningKeyTTL < caddy.Duration(10*time.Minute):
		return fmt.Errorf("signing_key_ttl must be at least 10m, got %s", time.Duration(a.SigningKeyTTL))
	}
	return checkKeyPrefix(a.KeyPrefix)
}

// minSigningKeySecret is the shortest signing_key_secret taken: the
// sealing key is derived from it by one hash, so it must be too long to
// guess offline by whoever holds a copy of the database.
const minSigningKeySecret = 32

// resolveSigningKeySecret replaces the placeholders of signing_key_secret
// and refuses one that resolves to nothing (an unset variable would
// otherwise leave the signing keys unsealed without a word) or to a
// secret too short to seal with.
func resolveSigningKeySecret(configured string) (string, error) {
	if configured == "" {
		return "", nil
	}
	secret := caddy.NewReplacer().ReplaceKnown(configured, "")
	switch {
	case secret == "":
		return "", fmt.Errorf("signing_key_secret %s is empty: is its environment variable set?", configured)
	case len(secret) < minSigningKeySecret:
		return "", fmt.Errorf("signing_key_secret is %d bytes long, want at least %d (such as the output of `openssl rand -base64 32`)", len(secret), minSigningKeySecret)
	}
	return secret, nil
}

// checkKeyPrefix fails unless p can prefix keys.
func checkKeyPrefix(p string) error {
	if !keystore.ValidPrefix(p) {
		return fmt.Errorf("invalid key_prefix %q: want 1 to 16 lowercase letters or digits", p)
	}
	return nil
}

// Start implements caddy.App; the store is opened by Provision. The
// shared store's follower logs to this config's logger from now on, and
// the admin API acts on this app.
func (a *App) Start() error {
	a.runtime.SetLogger(a.logger)
	a.running = &runningApp{runtime: a.runtime, logger: a.logger}
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
	// a.runtime stays set: the old config's servers may still be finishing
	// requests, which Authenticate then hands to the running config's
	// runtime.
	if a.runtime == nil || a.released {
		return nil
	}
	a.released = true
	_, err := stores.Delete(a.poolKey)
	return err
}

// keygateApp returns the config's keygate app, for the handlers' Provision:
// Caddy instantiates it with its defaults when the config has no keygate
// global option.
func keygateApp(ctx caddy.Context) (*App, error) {
	app, err := ctx.App("keygate")
	if err != nil {
		return nil, fmt.Errorf("getting keygate app: %w", err)
	}
	return app.(*App), nil
}

// Prefix returns the prefix of the keys this gateway accepts.
func (a *App) Prefix() string { return a.KeyPrefix }

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
	_ caddy.Destructor   = (*gateway.Runtime)(nil)
)
