package caddymodule

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/keystore/sqlite"
)

func TestParseDatabaseURL(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		url  string
		want storeLocation
	}{
		{"postgres://keygate:s3cret@db.example:5432/keys?sslmode=require", storeLocation{kind: kindPostgres, host: "db.example:5432", database: "keys"}},
		{"postgresql://db/keys", storeLocation{kind: kindPostgres, host: "db", database: "keys"}},
		{"POSTGRES://db/keys", storeLocation{kind: kindPostgres, host: "db", database: "keys"}},
		{"sqlite:keygate.db", storeLocation{kind: kindSQLite, path: filepath.Join(wd, "keygate.db")}},
		{"sqlite:data/keygate.db", storeLocation{kind: kindSQLite, path: filepath.Join(wd, "data", "keygate.db")}},
		{"sqlite:/var/lib/keygate/keygate.db", storeLocation{kind: kindSQLite, path: "/var/lib/keygate/keygate.db"}},
		{"sqlite:///var/lib/keygate/keygate.db", storeLocation{kind: kindSQLite, path: "/var/lib/keygate/keygate.db"}},
		{"sqlite://keygate.db", storeLocation{kind: kindSQLite, path: filepath.Join(wd, "keygate.db")}},
		{" sqlite:keygate.db\n", storeLocation{kind: kindSQLite, path: filepath.Join(wd, "keygate.db")}},
	}
	for _, c := range cases {
		got, err := parseDatabaseURL(c.url)
		if err != nil || got != c.want {
			t.Errorf("parseDatabaseURL(%q) = %+v, %v; want %+v", c.url, got, err, c.want)
		}
	}
}

func TestParseDatabaseURLErrors(t *testing.T) {
	const secret = "s3cret-Pa55"
	cases := []struct {
		url  string
		want []string
	}{
		{"mysql://keygate:" + secret + "@db/keys", []string{`unsupported database URL scheme "mysql:"`, "postgres://", "sqlite:PATH"}},
		{"keygate.db", []string{"no scheme", "sqlite:PATH"}},
		{"host=db user=keygate password=" + secret, []string{"no scheme", "postgres://"}},
		{"", []string{"no scheme"}},
		{"sqlite:", []string{"no file path", "sqlite:PATH"}},
		{"sqlite://", []string{"no file path"}},
		{"sqlite:keygate.db?mode=ro", []string{"no parameters"}},
		{"postgres://keygate:" + secret + "@[::1/keys", []string{"invalid PostgreSQL database URL"}},
	}
	for _, c := range cases {
		_, err := parseDatabaseURL(c.url)
		if err == nil {
			t.Errorf("parseDatabaseURL(%q) succeeded", c.url)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("parseDatabaseURL(%q): error %q does not say %q", c.url, err, w)
			}
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("parseDatabaseURL(%q): error %q shows the password", c.url, err)
		}
	}
}

func TestStoreLocationHidesPassword(t *testing.T) {
	loc, err := parseDatabaseURL("postgres://keygate:s3cret-pw@db:5432/keys")
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.String(); got != "postgresql://db:5432/keys" {
		t.Errorf("String() = %q", got)
	}
	for _, f := range loc.logFields() {
		if strings.Contains(f.String, "s3cret") {
			t.Errorf("log field %s = %q shows the password", f.Key, f.String)
		}
	}
}

func TestOpenStoreSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keygate.db")
	s, err := openStore(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, ok := s.(*sqlite.Store); !ok || got.Path() != path {
		t.Fatalf("openStore(sqlite:%s) = %T, want the SQLite store of that file", path, s)
	}
	if _, ok := s.(keystore.Follower); !ok {
		t.Error("the SQLite store does not follow its change feed")
	}
}

func TestOpenStorePostgres(t *testing.T) {
	// Nothing listens on port 1: the PostgreSQL store was tried, and
	// could not connect.
	_, err := openStore(t.Context(), "postgres://keygate:s3cret-pw@127.0.0.1:1/keygate?connect_timeout=5")
	if !errors.Is(err, keystore.ErrStoreUnavailable) {
		t.Fatalf("openStore(postgres://...) on a closed port: %v, want ErrStoreUnavailable", err)
	}
}

// TestOpenStoreBadConfiguration: each mistake gets an error that says
// what is wrong, never an empty store.
func TestOpenStoreBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	notADB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notADB, []byte(strings.Repeat("not a database\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, url string
		want      string
	}{
		{"bad scheme", "mongodb://db/keys", "unsupported database URL scheme"},
		{"missing directory", "sqlite:" + filepath.Join(dir, "missing", "keygate.db"), "does not exist"},
		{"directory under a file", "sqlite:" + filepath.Join(notADB, "keygate.db"), "not a directory"},
		{"directory", "sqlite:" + dir, "is a directory"},
		{"not a database", "sqlite:" + notADB, "not an SQLite database"},
	}
	for _, c := range cases {
		s, err := openStore(t.Context(), c.url)
		if err == nil {
			s.Close()
			t.Errorf("%s: openStore(%s) succeeded", c.name, c.url)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not say %q", c.name, err, c.want)
		}
	}
}

func TestDefaultDatabase(t *testing.T) {
	t.Run("XDG_DATA_HOME", func(t *testing.T) {
		data := t.TempDir()
		t.Setenv("XDG_DATA_HOME", data)
		want := filepath.Join(data, "caddy", "keygate", "keygate.db")
		u, isDefault, err := resolveDatabaseURL("  ")
		if err != nil || !isDefault || u != "sqlite:"+want {
			t.Fatalf("resolveDatabaseURL(\"\") = %q, %v, %v; want sqlite:%s, the default", u, isDefault, err, want)
		}
		fi, err := os.Stat(filepath.Dir(want))
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Fatalf("the default store's directory: %v (%v), want a directory with mode 0700", fi, err)
		}
		if u, isDefault, err := resolveDatabaseURL("sqlite:other.db"); err != nil || isDefault || u != "sqlite:other.db" {
			t.Errorf("a configured database: %q, %v, %v", u, isDefault, err)
		}
	})
	t.Run("HOME", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("Caddy's data directory under HOME is ~/.local/share/caddy on Linux only")
		}
		home := t.TempDir()
		t.Setenv("XDG_DATA_HOME", "")
		t.Setenv("HOME", home)
		want := "sqlite:" + filepath.Join(home, ".local", "share", "caddy", "keygate", "keygate.db")
		if u, _, err := resolveDatabaseURL(""); err != nil || u != want {
			t.Fatalf("resolveDatabaseURL(\"\") = %q, %v; want %s", u, err, want)
		}
	})
	t.Run("unusable", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("XDG_DATA_HOME", file)
		_, _, err := resolveDatabaseURL("")
		if !errors.Is(err, errNoDatabase) || !strings.Contains(err.Error(), file) {
			t.Fatalf("with a data directory under a file: %v, want errNoDatabase naming the path", err)
		}
	})
}

// TestAppAndCLIShareTheDefaultStore: with nothing configured, a gateway
// and the command line use the same file.
func TestAppAndCLIShareTheDefaultStore(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	t.Setenv(envDatabaseURL, "")
	a := &App{}
	if err := provisionApp(t, a); err != nil {
		t.Fatal(err)
	}
	if err := a.shared.store.CreateIntegration(context.Background(), keystore.Integration{ID: "demo", BaseURL: "http://127.0.0.1:9001"}); err != nil {
		t.Fatal(err)
	}
	c := newTestCLI(nil, map[string]string{})
	c.openStore = openStore
	out, err := executeCLI(t, c, "integrations", "list")
	if err != nil || !strings.Contains(out, "demo") {
		t.Fatalf("the command line without a database lists %q (%v), want the gateway's integration demo", out, err)
	}
}
