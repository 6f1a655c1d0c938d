package caddymodule

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/internal/pgtest"
	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/verify"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// provisionApp provisions a and releases it when the test ends.
func provisionApp(t *testing.T, a *App) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	err := a.Provision(ctx)
	t.Cleanup(func() {
		if err := a.Cleanup(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return err
}

// TestAppNeedsADatabase: without a database, the app uses the default
// embedded store; where that cannot be created, it says how to name one.
func TestAppNeedsADatabase(t *testing.T) {
	t.Setenv(EnvDatabaseURL, "")
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_DATA_HOME", file) // no directory can be made under a file
	err := provisionApp(t, &App{})
	if err == nil || !strings.Contains(err.Error(), "`database`") || !strings.Contains(err.Error(), "KEYGATE_DATABASE_URL") {
		t.Fatalf("error = %v, want one naming `database` and KEYGATE_DATABASE_URL", err)
	}
}

func TestAppUnreachableDatabase(t *testing.T) {
	t.Setenv(EnvDatabaseURL, "")
	start := time.Now()
	err := provisionApp(t, &App{Database: "postgres://keygate:s3cret-pw@127.0.0.1:1/keygate?connect_timeout=2"})
	if err == nil {
		t.Fatal("provisioned against an unreachable database")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "opening key store") {
		t.Errorf("error = %v, want it to say the key store could not be opened", err)
	}
	if d := time.Since(start); d > gateway.OpenTimeout+5*time.Second {
		t.Errorf("took %s", d)
	}
	if _, ok := stores.References(gateway.Config{Database: "postgres://keygate:s3cret-pw@127.0.0.1:1/keygate?connect_timeout=2"}); ok {
		t.Error("a failed store stayed in the pool")
	}
}

func TestAppDefaultsAndSources(t *testing.T) {
	url := pgtest.URL(t)

	t.Run("environment variable", func(t *testing.T) {
		t.Setenv(EnvDatabaseURL, url)
		a := &App{}
		if err := provisionApp(t, a); err != nil {
			t.Fatal(err)
		}
		// PostgreSQL keeps a change feed: cache_ttl is only a backstop.
		if a.CacheSize != verify.DefaultCacheBytes || time.Duration(a.CacheTTL) != keystore.DefaultFeedTTL ||
			time.Duration(a.StaleTTL) != verify.DefaultStaleTTL ||
			time.Duration(a.NegativeTTL) != verify.DefaultNegativeTTL ||
			time.Duration(a.LookupTimeout) != verify.DefaultLookupTimeout || a.Prefix() != "kg" {
			t.Errorf("defaults not applied: %+v", a)
		}
		if a.poolKey.Database != url {
			t.Error("database not taken from the environment")
		}
	})

	t.Run("env placeholder", func(t *testing.T) {
		t.Setenv(EnvDatabaseURL, "")
		t.Setenv("KEYGATE_TEST_APP_DB", url)
		a := &App{Database: "{env.KEYGATE_TEST_APP_DB}"}
		if err := provisionApp(t, a); err != nil {
			t.Fatal(err)
		}
		if a.poolKey.Database != url {
			t.Error("{env.*} placeholder not resolved")
		}
	})

	t.Run("invalid settings", func(t *testing.T) {
		for _, a := range []*App{
			{Database: url, CacheTTL: -1},
			{Database: url, CacheSize: -1},
			{Database: url, KeyPrefix: "Not_Valid"},
		} {
			if err := provisionApp(t, a); err == nil {
				t.Errorf("%+v provisioned", a)
			}
		}
	})
}

func TestAppSharesStoreAcrossReloads(t *testing.T) {
	url := pgtest.URL(t)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()

	first, second := &App{Database: url}, &App{Database: url}
	other := &App{Database: url, CacheTTL: caddy.Duration(time.Minute)}
	for _, a := range []*App{first, second, other} {
		if err := a.Provision(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if first.runtime != second.runtime {
		t.Error("two configs with the same settings do not share the store")
	}
	if first.runtime == other.runtime {
		t.Error("a config with another cache_ttl shares a verifier built with the old one")
	}
	if refs, _ := stores.References(first.poolKey); refs != 2 {
		t.Errorf("%d references, want 2", refs)
	}

	// The old config goes: the store stays open for the new one.
	if err := first.Cleanup(); err != nil {
		t.Fatal(err)
	}
	unknown, _, err := keystore.GenerateKey(nil, keystore.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.auth.Authenticate(context.Background(), unknown); err != keystore.ErrUnknownKey {
		t.Fatalf("store closed under a running config: %v", err)
	}
	if err := first.Cleanup(); err != nil {
		t.Fatalf("second cleanup of the same app: %v", err)
	}
	for _, a := range []*App{second, other} {
		if err := a.Cleanup(); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := stores.References(second.poolKey); ok {
		t.Error("store still pooled after its last config went")
	}
}

// TestAppWithoutGlobalOption runs a config whose handler finds no keygate
// app configured: Caddy makes one with the defaults, which reads the
// database from the environment.
func TestAppWithoutGlobalOption(t *testing.T) {
	database := pgtest.URL(t)
	t.Setenv(EnvDatabaseURL, database)
	port := freePort(t)
	cfg, err := adapt(t, `{
	admin off
	persist_config off
	storage file_system `+t.TempDir()+`
}
http://127.0.0.1:`+port+` {
	bind 127.0.0.1
	# respond is ordered before keygate: route keeps them in this order.
	route {
		keygate
		respond "hello {keygate.key.name}"
	}
}
`)
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load([]byte(cfg), true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })

	g := &liveGateway{store: openTestStore(t, database), keys: map[string]string{}}
	if err := g.store.CreateIntegration(context.Background(), keystore.Integration{ID: "demo", BaseURL: "http://127.0.0.1:9"}); err != nil {
		t.Fatal(err)
	}
	key := g.createKey(t, "demo", "alice")
	resp, body := do(t, "GET", "http://127.0.0.1:"+port+"/", key, nil)
	if resp.StatusCode != 200 || body != "hello alice" {
		t.Errorf("status %d, body %q", resp.StatusCode, body)
	}
	if resp, _ := do(t, "GET", "http://127.0.0.1:"+port+"/", "", nil); resp.StatusCode != 401 {
		t.Errorf("no key: status %d", resp.StatusCode)
	}
}
