package postgres

import (
	"embed"
	"errors"
	"fmt"

	"github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationsTable is the table in which golang-migrate records the schema
// version; ours, so that keygate can share a database with other
// applications that use golang-migrate.
const migrationsTable = "keygate_schema_migrations"

// migrateSchema brings the schema up to date. golang-migrate's pgx driver
// holds a session-level pg_advisory_lock, derived from the database,
// schema and migrations table names, around the version check and the
// migrations, so instances starting together apply each migration once
// and the others wait for it. The lock is taken on a connection of its own
// that is closed afterwards, so it can never be left held in the pool.
func migrateSchema(cfg *pgx.ConnConfig) (err error) {
	src, err := iofs.New(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("reading migrations: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	driver, err := pgxmigrate.WithInstance(db, &pgxmigrate.Config{MigrationsTable: migrationsTable})
	if err != nil {
		src.Close()
		return fmt.Errorf("preparing migrations: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", driver)
	if err != nil {
		src.Close()
		driver.Close()
		return fmt.Errorf("preparing migrations: %w", err)
	}
	defer func() {
		srcErr, dbErr := m.Close()
		if err == nil {
			err = errors.Join(srcErr, dbErr)
		}
	}()
	err = m.Up()
	var dirty migrate.ErrDirty
	switch {
	case err == nil, errors.Is(err, migrate.ErrNoChange):
		return nil
	case errors.As(err, &dirty):
		return fmt.Errorf("schema migration %d failed earlier and left %s dirty: repair the schema by hand, then set its version", dirty.Version, migrationsTable)
	}
	return fmt.Errorf("applying migrations: %w", err)
}
