// Package schema applies a key store's embedded SQL migrations with
// golang-migrate, the same way for every store.
package schema

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/golang-migrate/migrate/v4/source"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// Up applies the migrations in directory dir of fsys that the database of
// driver lacks, each in a transaction of its own, and closes driver.
// driverName names driver in golang-migrate's messages; table is the
// driver's migrations table, for ours. It fails without migrating when the
// database is at a version newer than any migration (a newer keygate
// migrated it), and when an earlier migration failed halfway.
//
// Up does not serialize concurrent migrations: the caller holds a lock, or
// the driver takes one.
func Up(fsys fs.FS, dir, driverName string, driver database.Driver, table string) (err error) {
	src, err := iofs.New(fsys, dir)
	if err != nil {
		driver.Close()
		return fmt.Errorf("reading migrations: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, driverName, driver)
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
	if err := checkVersion(m, src); err != nil {
		return err
	}
	err = m.Up()
	var dirty migrate.ErrDirty
	switch {
	case err == nil, errors.Is(err, migrate.ErrNoChange):
		return nil
	case errors.As(err, &dirty):
		return fmt.Errorf("schema migration %d failed earlier and left %s dirty: repair the schema by hand, then set its version", dirty.Version, table)
	}
	return fmt.Errorf("applying migrations: %w", err)
}

// checkVersion fails when the database was migrated by a newer keygate,
// to a version this one has no migration for.
func checkVersion(m *migrate.Migrate, src source.Driver) error {
	current, _, err := m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	latest, err := newest(src)
	if err != nil {
		return err
	}
	if current > latest {
		return fmt.Errorf("the database is at schema version %d, from a newer keygate; this one knows versions up to %d: upgrade keygate", current, latest)
	}
	return nil
}

// Latest returns the version of the newest migration in directory dir of
// fsys: the version Up brings a database to.
func Latest(fsys fs.FS, dir string) (uint, error) {
	src, err := iofs.New(fsys, dir)
	if err != nil {
		return 0, fmt.Errorf("reading migrations: %w", err)
	}
	defer src.Close()
	return newest(src)
}

// newest returns the version of src's newest migration.
func newest(src source.Driver) (uint, error) {
	latest, err := src.First()
	for err == nil {
		var next uint
		if next, err = src.Next(latest); err == nil {
			latest = next
		}
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("reading migrations: %w", err)
	}
	return latest, nil
}
