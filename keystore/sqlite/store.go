// Package sqlite is the embedded implementation of keystore.Store: one
// SQLite file on the gateway's machine, through modernc.org/sqlite (pure
// Go, so the binary stays free of cgo). It has the same tables, triggers
// and change feed as package postgres, and Open applies its schema
// migrations by itself, once, under a lock.
//
// Several processes may use one file at once — typically a running
// gateway and the command line: the database is in WAL mode, so readers
// never wait for a writer; each process writes through a single connection
// whose transactions take the write lock up front; and every connection
// waits up to BusyTimeout for another process's write lock instead of
// failing with "database is locked".
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/keygate/keygate/keystore"
)

// BusyTimeout is how long a statement waits for another connection's or
// process's lock before failing with keystore.ErrStoreUnavailable.
const BusyTimeout = 5 * time.Second

// Store is a keystore.Store in an SQLite file. It is safe for concurrent
// use, also by several processes on the same file. It also keeps the
// change feed that gateways follow (see Follow).
type Store struct {
	path string
	// writer has one connection: the writes of this process take turns
	// there rather than contending for SQLite's write lock, and its
	// transactions are BEGIN IMMEDIATE, so one that reads before it writes
	// can never find its snapshot overtaken by another process's write.
	writer *sql.DB
	// reader's connections are read-only and read in parallel, never
	// waiting for writes (WAL).
	reader *sql.DB
	feed   feedSettings
	// ident identifies the file opened at path (see CheckFile).
	ident os.FileInfo
	// gone is why lookups fail while a follower finds the file gone.
	gone atomic.Pointer[error]
}

var (
	_ keystore.Store         = (*Store)(nil)
	_ keystore.Follower      = (*Store)(nil)
	_ keystore.FleetFollower = (*Store)(nil)
)

// Open opens the keygate database in the SQLite file at path, creating the
// file if it does not exist (its directory must), readable by this user
// only, and migrates its schema. It fails with a clear error, before
// changing anything, when path is a directory, when the file is not an
// SQLite database, or when it is one that holds other tables than
// keygate's.
func Open(ctx context.Context, path string) (*Store, error) {
	path, err := checkPath(path)
	if err != nil {
		return nil, err
	}
	created, err := createPrivate(path)
	if err != nil {
		return nil, err
	}
	s, err := openPrepared(ctx, path)
	if err != nil && created {
		removeIfEmpty(path)
	}
	return s, err
}

func openPrepared(ctx context.Context, path string) (*Store, error) {
	if err := prepare(ctx, path); err != nil {
		return nil, err
	}
	writer := openDB(path, 1, BusyTimeout, "_pragma=foreign_keys(1)", "_pragma=synchronous(NORMAL)", "_txlock=immediate")
	reader := openDB(path, max(4, runtime.GOMAXPROCS(0)), BusyTimeout, "_pragma=query_only(1)")
	s := &Store{path: path, writer: writer, reader: reader, feed: defaultFeedSettings()}
	for _, db := range []*sql.DB{writer, reader} {
		if err := db.PingContext(ctx); err != nil {
			s.Close()
			return nil, describeErr(path, err)
		}
	}
	ident, err := fileIdentity(path)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.ident = ident
	return s, nil
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close closes every connection of the store.
func (s *Store) Close() {
	s.reader.Close()
	s.writer.Close()
}

// openDB returns a pool of at most conns connections to the file at path,
// each of which waits up to busy for a lock and is set up with the given
// driver parameters. Connections are made on first use.
func openDB(path string, conns int, busy time.Duration, params ...string) *sql.DB {
	// The driver is registered and sql.Open only records the name: it
	// cannot fail.
	db, _ := sql.Open("sqlite", dsn(path, busy, params...))
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	return db
}

// dsn is the modernc.org/sqlite data source name of the file at path: a
// file: URI, in which any character of the path is escaped, with a busy
// timeout and params.
func dsn(path string, busy time.Duration, params ...string) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter: file:///C:/...
	}
	u := url.URL{Scheme: "file", Path: p}
	q := append([]string{fmt.Sprintf("_pragma=busy_timeout(%d)", busy.Milliseconds())}, params...)
	return u.String() + "?" + strings.Join(q, "&")
}
