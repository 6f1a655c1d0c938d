package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/keygate/keygate/keystore"
)

// checkPath returns path made absolute, or why it cannot hold a database:
// it is a directory or some other non-file, or it does not exist and
// cannot be created because its directory does not exist.
//
// It never opens the file: SQLite's locks are POSIX locks, which closing
// any descriptor of the file would release for the whole process, so only
// SQLite itself opens database files here.
func checkPath(path string) (string, error) {
	if path == "" {
		return "", errors.New("no SQLite database file given")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolving the SQLite database path %s: %w", path, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case err == nil && fi.IsDir():
		return "", fmt.Errorf("%s is a directory, not a database file: give the path of a file in it, such as %s",
			abs, filepath.Join(abs, "keygate.db"))
	case err == nil && !fi.Mode().IsRegular():
		return "", fmt.Errorf("%s is not a regular file, so it cannot be an SQLite database", abs)
	case err == nil:
		return abs, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("cannot use %s as the SQLite database: %w", abs, err)
	}
	dir := filepath.Dir(abs)
	di, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("cannot create the SQLite database %s: directory %s does not exist", abs, dir)
	case err != nil:
		return "", fmt.Errorf("cannot create the SQLite database %s: %w", abs, err)
	case !di.IsDir():
		return "", fmt.Errorf("cannot create the SQLite database %s: %s is not a directory", abs, dir)
	}
	return abs, nil
}

// checkKeygateDB fails unless the database of db is empty (new) or
// keygate's: a file that is not an SQLite database, or one that holds some
// other application's tables, is never turned into a key store.
func checkKeygateDB(ctx context.Context, db *sql.DB, path string) error {
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_schema
		WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return describeErr(path, err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return describeErr(path, err)
		}
		if name == migrationsTable {
			rows.Close()
			return nil
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		return describeErr(path, err)
	}
	if len(tables) == 0 {
		return nil // a new database
	}
	if len(tables) > 5 {
		tables = append(tables[:5], "...")
	}
	return fmt.Errorf("%s is an SQLite database but not keygate's (it has tables %s and no %s): "+
		"keygate keeps its keys in a database of its own; give the path of a new file",
		path, strings.Join(tables, ", "), migrationsTable)
}

// fileMode is the mode of the files keygate creates for a database: the
// database holds key hashes and the integrations' URLs, which are for
// keygate's user only. SQLite gives its -wal and -shm files the mode of
// the database file.
const fileMode = 0o600

// createPrivate creates the file at path with fileMode if it does not
// exist, and reports whether it did. It closes the file at once, before
// SQLite opens it: nothing in this process holds a lock on a file it has
// just created.
func createPrivate(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot create %s: check that directory %s is writable by this user: %w",
			path, filepath.Dir(path), err)
	}
	return true, f.Close()
}

// removeIfEmpty removes the file at path if it is still empty: what a
// failed Open leaves of a database it created.
func removeIfEmpty(path string) {
	if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
		_ = os.Remove(path)
	}
}

// fileIdentity returns what identifies the file at path (device and inode
// on Unix), for os.SameFile.
func fileIdentity(path string) (os.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading the SQLite database file %s: %w", path, err)
	}
	return fi, nil
}

// ErrFileGone says that the path of an open Store no longer names the file
// it opened: the file was removed, moved away or replaced.
var ErrFileGone = errors.New("the SQLite database file is gone")

// CheckFile fails with an error wrapping ErrFileGone (and
// keystore.ErrStoreUnavailable) unless the store's path still names the
// very file it opened, the same device and inode. A database that was
// removed or moved away lives on, unlinked, for as long as this process
// holds it open, while every other process sees another file, or none,
// at the path: the two would drift apart without a word. It is one stat:
// followers call it on each poll of the feed.
func (s *Store) CheckFile() error {
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %w: %s was removed or moved away; put it back (the same file) or restart keygate",
			keystore.ErrStoreUnavailable, ErrFileGone, s.path)
	case err != nil:
		return fmt.Errorf("%w: reading the SQLite database file %s: %w", keystore.ErrStoreUnavailable, s.path, err)
	case !os.SameFile(fi, s.ident):
		return fmt.Errorf("%w: %w: %s was replaced by another file; restart keygate to use the new one, or put the old one back",
			keystore.ErrStoreUnavailable, ErrFileGone, s.path)
	}
	return nil
}
