package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keygate/keygate/keystore"
)

// migrationLockWait bounds how long Open waits for another process that
// is migrating the same database.
const migrationLockWait = 15 * time.Second

// lockSuffix names the lock file of a database: its path with this
// appended, next to SQLite's own -wal and -shm files. It is left in place:
// removing a lock file that another process may be waiting on would let a
// third one take a second lock.
const lockSuffix = "-migrate-lock"

// lockMigrations takes the lock that keeps processes from migrating the
// database at path at the same time (golang-migrate's SQLite driver only
// locks within one process), waiting up to migrationLockWait for it, and
// returns its release.
//
// The lock is an exclusive transaction on an empty SQLite database of its
// own, so that SQLite's portable file locking does the work, with its busy
// timeout as the wait; the lock file stays empty. Locking the database
// itself would not do: the migrations must write to it meanwhile.
func lockMigrations(ctx context.Context, path string) (unlock func(), err error) {
	lockPath := path + lockSuffix
	if _, err := createPrivate(lockPath); err != nil {
		return nil, err
	}
	db := openDB(lockPath, 1, migrationLockWait, "_txlock=exclusive")
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		db.Close()
		if code, _ := sqliteCode(err); code&0xff == sqlite3.SQLITE_BUSY {
			return nil, fmt.Errorf("another process has been migrating the SQLite database %s for more than %s: %w: %w",
				path, migrationLockWait, keystore.ErrStoreUnavailable, err)
		}
		return nil, fmt.Errorf("cannot create the lock file %s: check that directory %s is writable by this user: %w",
			lockPath, filepath.Dir(lockPath), err)
	}
	return func() {
		_ = tx.Rollback()
		db.Close()
	}, nil
}
