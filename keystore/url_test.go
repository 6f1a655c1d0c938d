package keystore_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/keystore"
	_ "github.com/keygate/keygate/keystore/postgres"
	"github.com/keygate/keygate/keystore/sqlite"
)

func TestParseURL(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		url  string
		want keystore.Location
	}{
		{"postgres://keygate:s3cret@db.example:5432/keys?sslmode=require", keystore.Location{Kind: "postgresql", Host: "db.example:5432", Database: "keys"}},
		{"postgresql://db/keys", keystore.Location{Kind: "postgresql", Host: "db", Database: "keys"}},
		{"POSTGRES://db/keys", keystore.Location{Kind: "postgresql", Host: "db", Database: "keys"}},
		{"sqlite:keygate.db", keystore.Location{Kind: "sqlite", Path: filepath.Join(wd, "keygate.db")}},
		{"sqlite:data/keygate.db", keystore.Location{Kind: "sqlite", Path: filepath.Join(wd, "data", "keygate.db")}},
		{"sqlite:/var/lib/keygate/keygate.db", keystore.Location{Kind: "sqlite", Path: "/var/lib/keygate/keygate.db"}},
		{"sqlite:///var/lib/keygate/keygate.db", keystore.Location{Kind: "sqlite", Path: "/var/lib/keygate/keygate.db"}},
		{"sqlite://keygate.db", keystore.Location{Kind: "sqlite", Path: filepath.Join(wd, "keygate.db")}},
		{" sqlite:keygate.db\n", keystore.Location{Kind: "sqlite", Path: filepath.Join(wd, "keygate.db")}},
	}
	for _, c := range cases {
		got, err := keystore.ParseURL(c.url)
		if err != nil || got != c.want {
			t.Errorf("keystore.ParseURL(%q) = %+v, %v; want %+v", c.url, got, err, c.want)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
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
		_, err := keystore.ParseURL(c.url)
		if err == nil {
			t.Errorf("keystore.ParseURL(%q) succeeded", c.url)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("keystore.ParseURL(%q): error %q does not say %q", c.url, err, w)
			}
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("keystore.ParseURL(%q): error %q shows the password", c.url, err)
		}
	}
}

func TestLocationHidesPassword(t *testing.T) {
	loc, err := keystore.ParseURL("postgres://keygate:s3cret-pw@db:5432/keys")
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.String(); got != "postgresql://db:5432/keys" {
		t.Errorf("String() = %q", got)
	}
	for _, f := range loc.LogFields() {
		if strings.Contains(f.String, "s3cret") {
			t.Errorf("log field %s = %q shows the password", f.Key, f.String)
		}
	}
}

func TestOpenSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keygate.db")
	s, _, err := keystore.Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, ok := s.(*sqlite.Store); !ok || got.Path() != path {
		t.Fatalf("keystore.Open(sqlite:%s) = %T, want the SQLite store of that file", path, s)
	}
	if _, ok := s.(keystore.Follower); !ok {
		t.Error("the SQLite store does not follow its change feed")
	}
}

func TestOpenPostgres(t *testing.T) {
	// Nothing listens on port 1: the PostgreSQL store was tried, and
	// could not connect.
	_, _, err := keystore.Open(t.Context(), "postgres://keygate:s3cret-pw@127.0.0.1:1/keygate?connect_timeout=5")
	if !errors.Is(err, keystore.ErrStoreUnavailable) {
		t.Fatalf("keystore.Open(postgres://...) on a closed port: %v, want ErrStoreUnavailable", err)
	}
}

// TestOpenBadConfiguration: each mistake gets an error that says
// what is wrong, never an empty store.
func TestOpenBadConfiguration(t *testing.T) {
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
		s, _, err := keystore.Open(t.Context(), c.url)
		if err == nil {
			s.Close()
			t.Errorf("%s: keystore.Open(%s) succeeded", c.name, c.url)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not say %q", c.name, err, c.want)
		}
	}
}
