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
