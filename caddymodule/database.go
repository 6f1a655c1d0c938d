package caddymodule

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/keygate/keygate/keystore"

	// The key store dialects this build opens (see keystore.Open).
	_ "github.com/keygate/keygate/keystore/postgres"
	_ "github.com/keygate/keygate/keystore/sqlite"
)

// EnvDatabaseURL names the environment variable that gives the key store's
// URL to the gateway and the command line when they are given none.
const EnvDatabaseURL = "KEYGATE_DATABASE_URL"

// DatabaseHelp says where the management commands find the key store.
const DatabaseHelp = `The key store is given by --database URL, else by the KEYGATE_DATABASE_URL
environment variable: postgres://user:password@host:5432/database for
PostgreSQL, or sqlite:PATH for an SQLite file. Without either, it is the
embedded SQLite file keygate/keygate.db in Caddy's data directory
($XDG_DATA_HOME/caddy, else ~/.local/share/caddy), which "keygate run" uses
too when its config names no database.`

// ErrNoDatabase says that no database was configured and the default
// embedded store cannot be used either.
var ErrNoDatabase = errors.New("no key store database is configured and the default embedded store cannot be used: " +
	"name one with --database, the " + EnvDatabaseURL + " environment variable or the `database` " +
	"of the keygate global option: " + keystore.AcceptedURLs())

// DefaultDatabasePath returns the SQLite file that the gateway and the
// command line use when no database is configured: keygate/keygate.db in
// Caddy's data directory ($XDG_DATA_HOME/caddy, else ~/.local/share/caddy
// on Linux).
func DefaultDatabasePath() string {
	path := filepath.Join(caddy.AppDataDir(), "keygate", "keygate.db")
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// ResolveDatabaseURL returns configured, or when it is empty the URL of
// the default embedded store, whose directory it creates (readable by this
// user only).
func ResolveDatabaseURL(configured string) (databaseURL string, isDefault bool, err error) {
	if configured = strings.TrimSpace(configured); configured != "" {
		return configured, false, nil
	}
	path := DefaultDatabasePath()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", true, fmt.Errorf("%w (creating the directory of %s: %w)", ErrNoDatabase, path, err)
	}
	return "sqlite:" + path, true, nil
}
