package postgres

import (
	"embed"
	"fmt"

	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/keygate/keygate/keystore/internal/schema"
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
func migrateSchema(cfg *pgx.ConnConfig) error {
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	driver, err := pgxmigrate.WithInstance(db, &pgxmigrate.Config{MigrationsTable: migrationsTable})
	if err != nil {
		return fmt.Errorf("preparing migrations: %w", err)
	}
	return schema.Up(migrations, "migrations", "pgx5", driver, migrationsTable)
}
