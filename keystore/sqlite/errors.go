package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keygate/keygate/keystore"
)

// wrapErr says what was being done (op) and maps err to the keystore
// errors callers test with errors.Is. SQLite names the column of a failed
// UNIQUE constraint, which tells which one it was.
func wrapErr(op string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, keystore.ErrNotFound)
	}
	code, msg := sqliteCode(err)
	switch {
	case code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY && strings.Contains(msg, "keygate_integrations.id"):
		return fmt.Errorf("%s: %w", op, keystore.ErrIntegrationExists)
	case code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY && strings.Contains(msg, "keygate_keys.id"):
		return fmt.Errorf("%s: a key with this id already exists: %w", op, err)
	case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE && strings.Contains(msg, "keygate_keys.key_hash"):
		return fmt.Errorf("%s: a key with this hash already exists: %w", op, err)
	case code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		// keygate_keys.integration_id is the only foreign key a write can
		// break: usage rows are only added for keys that exist.
		return fmt.Errorf("%s: %w", op, keystore.ErrUnknownIntegration)
	case unavailable(err):
		return fmt.Errorf("%s: %w: %w", op, keystore.ErrStoreUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// sqliteCode returns the extended result code and message of an SQLite
// error, or 0 for any other error.
func sqliteCode(err error) (int, string) {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return 0, ""
	}
	return e.Code(), e.Error()
}

// unavailable reports whether err means the database could not answer
// now — another process held its lock past BusyTimeout, the disk failed
// or is full, the caller's deadline passed — rather than that it answered
// with an SQL error.
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	code, _ := sqliteCode(err)
	switch code & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_INTERRUPT:
		return true
	}
	return false
}

// describeErr explains an error met while opening the database at path,
// saying what to check.
func describeErr(path string, err error) error {
	code, _ := sqliteCode(err)
	switch code & 0xff {
	case sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("%s is not an SQLite database: is it the right file? (%w)", path, err)
	case sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("the SQLite database %s is corrupt: restore it from a backup (%w)", path, err)
	case sqlite3.SQLITE_CANTOPEN:
		return fmt.Errorf("cannot open or create the SQLite database %s: check that it and its directory exist and are writable by this user (%w)", path, err)
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH:
		return fmt.Errorf("cannot write to the SQLite database %s: check that it and its directory are writable by this user (%w)", path, err)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("the SQLite database %s stayed locked by another process for more than %s: %w: %w",
			path, BusyTimeout, keystore.ErrStoreUnavailable, err)
	}
	return fmt.Errorf("opening the SQLite database %s: %w", path, err)
}
