package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/keystore/postgres"
	"github.com/keygate/keygate/keystore/sqlite"
)

// This file turns a database URL into a key store, for the app and the
// command line alike. A URL is one of:
//
//	postgres://user:password@host:5432/database    PostgreSQL (also postgresql://)
//	sqlite:PATH                                    an SQLite file: sqlite:keygate.db,
//	                                               sqlite:/var/lib/keygate/keygate.db,
//	                                               sqlite:///var/lib/keygate/keygate.db
//
// When none is configured, both use the same embedded store: the SQLite
// file that defaultDatabasePath returns.

// Kinds of key store.
const (
	kindPostgres = "postgresql"
	kindSQLite   = "sqlite"
)

// acceptedURLs lists the database URLs keygate understands, for errors.
const acceptedURLs = "postgres://user:password@host:5432/database (or postgresql://), " +
	"or sqlite:PATH for an SQLite file (sqlite:keygate.db, sqlite:/abs/path or sqlite:///abs/path)"

// databaseHelp says where the management commands find the key store.
const databaseHelp = `The key store is given by --database URL, else by the KEYGATE_DATABASE_URL
environment variable: postgres://user:password@host:5432/database for
PostgreSQL, or sqlite:PATH for an SQLite file. Without either, it is the
embedded SQLite file keygate/keygate.db in Caddy's data directory
($XDG_DATA_HOME/caddy, else ~/.local/share/caddy), which "keygate run" uses
too when its config names no database.`

// errNoDatabase says that no database was configured and the default
// embedded store cannot be used either.
var errNoDatabase = errors.New("no key store database is configured and the default embedded store cannot be used: " +
	"name one with --" + flagDatabase + ", the " + envDatabaseURL + " environment variable or the `database` " +
	"of the keygate global option: " + acceptedURLs)

// storeLocation is where a database URL points, without its credentials:
// what the gateway logs at start and errors may show.
type storeLocation struct {
	kind string // kindPostgres or kindSQLite
	// path is the SQLite file, absolute.
	path string
	// host (host:port, empty for the default) and database name of a
	// PostgreSQL server.
	host, database string
}

// parseDatabaseURL tells which store raw names. Its errors never repeat
// raw, which may hold a password.
func parseDatabaseURL(raw string) (storeLocation, error) {
	raw = strings.TrimSpace(raw)
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/= ") {
		return storeLocation{}, fmt.Errorf("the database URL has no scheme: want %s", acceptedURLs)
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		u, err := url.Parse(raw)
		if err != nil {
			var uerr *url.Error
			if errors.As(err, &uerr) {
				err = uerr.Err // without the URL
			}
			return storeLocation{}, fmt.Errorf("invalid PostgreSQL database URL: %w", err)
		}
		return storeLocation{kind: kindPostgres, host: u.Host, database: strings.TrimPrefix(u.Path, "/")}, nil
	case "sqlite":
		// sqlite:///abs and sqlite://rel as in golang-migrate, sqlite:PATH.
		path := strings.TrimPrefix(rest, "//")
		switch {
		case path == "":
			return storeLocation{}, fmt.Errorf("the SQLite database URL has no file path: want sqlite:PATH, such as sqlite:%s", defaultDatabasePath())
		case strings.ContainsAny(path, "?#"):
			return storeLocation{}, fmt.Errorf("invalid SQLite database URL sqlite:%s: it takes a file path and no parameters", path)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return storeLocation{}, fmt.Errorf("resolving the SQLite database path %s: %w", path, err)
		}
		return storeLocation{kind: kindSQLite, path: abs}, nil
	}
	return storeLocation{}, fmt.Errorf("unsupported database URL scheme %q: want %s", scheme+":", acceptedURLs)
}

// String names the store for messages: the file, or the server and
// database, never a password.
func (l storeLocation) String() string {
	if l.kind == kindSQLite {
		return "sqlite:" + l.path
	}
	return "postgresql://" + l.host + "/" + l.database
}

// logFields describe the store in a log entry.
func (l storeLocation) logFields() []zap.Field {
	if l.kind == kindSQLite {
		return []zap.Field{zap.String("store", l.kind), zap.String("path", l.path)}
	}
	return []zap.Field{zap.String("store", l.kind), zap.String("host", l.host), zap.String("database", l.database)}
}

// openStore opens the key store databaseURL names, migrating its schema if
// needed.
func openStore(ctx context.Context, databaseURL string) (keystore.Store, error) {
	loc, err := parseDatabaseURL(databaseURL)
	if err != nil {
		return nil, err
	}
	if loc.kind == kindSQLite {
		s, err := sqlite.Open(ctx, loc.path)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	s, err := postgres.Open(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// defaultDatabasePath returns the SQLite file that the gateway and the
// command line use when no database is configured: keygate/keygate.db in
// Caddy's data directory ($XDG_DATA_HOME/caddy, else ~/.local/share/caddy
// on Linux).
func defaultDatabasePath() string {
	path := filepath.Join(caddy.AppDataDir(), "keygate", "keygate.db")
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// resolveDatabaseURL returns configured, or when it is empty the URL of
// the default embedded store, whose directory it creates (readable by this
// user only).
func resolveDatabaseURL(configured string) (databaseURL string, isDefault bool, err error) {
	if configured = strings.TrimSpace(configured); configured != "" {
		return configured, false, nil
	}
	path := defaultDatabasePath()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", true, fmt.Errorf("%w (creating the directory of %s: %w)", errNoDatabase, path, err)
	}
	return "sqlite:" + path, true, nil
}
