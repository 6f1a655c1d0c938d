package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	sqlitemigrate "github.com/golang-migrate/migrate/v4/database/sqlite"

	"github.com/keygate/keygate/keystore/internal/schema"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationsTable is the table in which golang-migrate records the schema
// version, named as in PostgreSQL.
const migrationsTable = "keygate_schema_migrations"

// prepare makes the file at path a keygate database at the current schema
// version: it checks that the file is empty or keygate's, then, under the
// migration lock, switches it to WAL mode and applies the migrations it
// lacks.
func prepare(ctx context.Context, path string) error {
	db := openDB(path, 1, BusyTimeout, "_pragma=foreign_keys(1)")
	defer db.Close()
	if err := checkKeygateDB(ctx, db, path); err != nil {
		return err
	}
	unlock, err := lockMigrations(ctx, path)
	if err != nil {
		return err
	}
	defer unlock()
	// WAL is a property of the file: set once, it holds for every
	// connection of every process.
	if _, err := db.ExecContext(ctx, "PRAGMA journal_mode = WAL"); err != nil {
		return describeErr(path, err)
	}
	if err := migrateSchema(db); err != nil {
		return fmt.Errorf("migrating the schema of the SQLite database %s: %w", path, err)
	}
	return nil
}

// migrateSchema brings the schema of db up to date, each migration in a
// transaction of its own, and closes db. golang-migrate's SQLite driver
// only locks within one process: the caller holds the migration lock.
func migrateSchema(db *sql.DB) error {
	driver, err := sqlitemigrate.WithInstance(db, &sqlitemigrate.Config{MigrationsTable: migrationsTable})
	if err != nil {
		return fmt.Errorf("preparing migrations: %w", err)
	}
	return schema.Up(migrations, "migrations", "sqlite", driver, migrationsTable)
}
