package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/keystore/internal/schema"
)

// mustFailOpen opens path, which must fail with an error that says every
// one of want, and leaves no database behind where there was none.
func mustFailOpen(t *testing.T, path string, want ...string) error {
	t.Helper()
	_, statErr := os.Stat(path)
	s, err := Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatalf("Open(%s) succeeded", path)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Open(%s): error %q does not say %q", path, err, w)
		}
	}
	if _, err := os.Stat(path); errors.Is(statErr, os.ErrNotExist) && err == nil {
		t.Errorf("a failed Open created %s", path)
	}
	return err
}

func TestOpenDirectory(t *testing.T) {
	dir := t.TempDir()
	mustFailOpen(t, dir, dir, "is a directory", filepath.Join(dir, "keygate.db"))
}

func TestOpenMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nowhere")
	mustFailOpen(t, filepath.Join(dir, "keygate.db"), "directory "+dir+" does not exist")
}

func TestOpenUnderAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustFailOpen(t, filepath.Join(file, "keygate.db"), file, "not a directory")
}

func TestOpenUnwritableDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes to read-only directories: see TestOpenUnderAFile")
	}
	dir := filepath.Join(t.TempDir(), "readonly")
	if err := os.Mkdir(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	mustFailOpen(t, filepath.Join(dir, "keygate.db"), dir, "writable")
}

func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "random.bin")
	junk := make([]byte, 8192)
	rand.Read(junk)
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	mustFailOpen(t, path, path, "not an SQLite database")
	if _, err := os.Stat(path + lockSuffix); err == nil {
		t.Errorf("opening a file that is no database left a lock file next to it")
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != string(junk) {
		t.Errorf("the file that is no database was changed (%v)", err)
	}
}

func TestOpenOtherApplicationsDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db := openDB(path, 1, BusyTimeout)
	if _, err := db.Exec(`CREATE TABLE invoices (id INTEGER PRIMARY KEY); CREATE TABLE customers (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	mustFailOpen(t, path, path, "not keygate's", "customers, invoices")
	db = openDB(path, 1, BusyTimeout)
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name LIKE 'keygate%'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("keygate added %d objects to another application's database (%v)", n, err)
	}
}

func TestOpenEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	if err := s.CreateIntegration(t.Context(), keystore.Integration{ID: "weather", BaseURL: "https://weather.example.com"}); err != nil {
		t.Fatalf("an empty file becomes a keygate database: %v", err)
	}
}

func TestOpenRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	s := open(t, "keygate.db")
	if want, _ := filepath.Abs("keygate.db"); s.Path() != want {
		t.Errorf("Path() = %s, want %s", s.Path(), want)
	}
}

func TestOpenNewerSchema(t *testing.T) {
	path := tempPath(t)
	open(t, path).Close()
	db := openDB(path, 1, BusyTimeout)
	if _, err := db.Exec(`UPDATE ` + migrationsTable + ` SET version = 99`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	mustFailOpen(t, path, "schema version 99", "newer keygate")
}

func TestOpenEmptyPath(t *testing.T) {
	if _, err := Open(t.Context(), ""); err == nil || !strings.Contains(err.Error(), "no SQLite database file") {
		t.Fatalf("Open(\"\") = %v, want an error saying no file was given", err)
	}
}

// latestMigration is the version of the newest migration.
func latestMigration(t *testing.T) int64 {
	t.Helper()
	v, err := schema.Latest(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	return int64(v)
}

// schemaVersion reads the migrations table.
func schemaVersion(t *testing.T, db *sql.DB) (version int64, dirty bool, rows int) {
	t.Helper()
	err := db.QueryRow(`SELECT max(version), max(dirty), count(*) FROM `+migrationsTable).Scan(&version, &dirty, &rows)
	if err != nil {
		t.Fatalf("reading %s: %v", migrationsTable, err)
	}
	return version, dirty, rows
}

func TestMigrationsIdempotent(t *testing.T) {
	path := tempPath(t)
	first := open(t, path)
	if err := first.CreateIntegration(t.Context(), keystore.Integration{ID: "weather", BaseURL: "https://weather.example.com"}); err != nil {
		t.Fatal(err)
	}
	second := open(t, path)
	list, err := second.ListIntegrations(t.Context())
	if err != nil || len(list) != 1 {
		t.Fatalf("after a second Open, integrations are %+v (%v): migrations ran again?", list, err)
	}
	if v, dirty, rows := schemaVersion(t, second.reader); v != latestMigration(t) || dirty || rows != 1 {
		t.Fatalf("%s: version %d, dirty %v, %d rows; want version %d, clean, 1 row", migrationsTable, v, dirty, rows, latestMigration(t))
	}
	var mode string
	if err := second.reader.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode %q (%v), want wal", mode, err)
	}
	var defaultTable int
	if err := second.reader.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'schema_migrations'`).Scan(&defaultTable); err != nil || defaultTable != 0 {
		t.Fatalf("golang-migrate's default table schema_migrations exists (%v): ours must be %s", err, migrationsTable)
	}
}

// TestConcurrentOpen opens several stores on a fresh file at once: without
// the migration lock, their CREATE TABLEs would collide, or one would
// leave the schema version dirty.
func TestConcurrentOpen(t *testing.T) {
	path := tempPath(t)
	const n = 8
	stores := make([]*Store, n)
	errs := make([]error, n)
	start := make(chan struct{})
	done := make(chan int)
	for i := range n {
		go func() {
			<-start
			stores[i], errs[i] = Open(context.Background(), path)
			done <- i
		}()
	}
	close(start)
	for range n {
		<-done
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d of %d racing on a fresh file: %v", i+1, n, err)
			continue
		}
		t.Cleanup(stores[i].Close)
	}
	if t.Failed() {
		return
	}
	if v, dirty, rows := schemaVersion(t, stores[0].reader); v != latestMigration(t) || dirty || rows != 1 {
		t.Fatalf("%s: version %d, dirty %v, %d rows; want version %d, clean, 1 row", migrationsTable, v, dirty, rows, latestMigration(t))
	}
}
