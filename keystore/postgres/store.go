// Package postgres is the PostgreSQL implementation of keystore.Store, on
// a pgx connection pool. Open applies the schema migrations by itself,
// once, under an advisory lock.
//
// The store also keeps a change feed (keystore.Follower): triggers record
// every change to keys and integrations, in commit order, and NOTIFY it;
// Follow applies them to a gateway's cache as they commit.
package postgres

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/keygate/keygate/keystore"
)

// defaultConnectTimeout bounds each connection attempt when the URL sets
// no connect_timeout: an unreachable host fails instead of hanging.
const defaultConnectTimeout = 10 * time.Second

// Store is a keystore.Store in PostgreSQL. It is safe for concurrent use.
// It also keeps the change feed that gateways follow (see Follow).
type Store struct {
	pool *pgxpool.Pool
	// connConfig is what the change feed's dedicated connections are made
	// from: the pool's, never one of its connections.
	connConfig *pgx.ConnConfig
	feed       feedSettings
}

var (
	_ keystore.Store         = (*Store)(nil)
	_ keystore.Follower      = (*Store)(nil)
	_ keystore.FleetFollower = (*Store)(nil)
)

// Open connects to the database at databaseURL (a postgres:// URL or a
// libpq keyword/value string), checks that it answers, and migrates its
// schema. Errors never contain the password. A server that cannot be
// reached or is not accepting connections gives an error wrapping
// keystore.ErrStoreUnavailable; one that refuses us (wrong password, no
// such database) does not. Migrations started by several instances at once
// run once: the others wait for them, for up to 15 seconds.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing database URL: %w", redactParseError(err))
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("creating connection pool for %s: %w", describe(cfg.ConnConfig.Config), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, wrapErr("connecting to PostgreSQL at "+describe(cfg.ConnConfig.Config), err)
	}
	if err := migrateSchema(cfg.ConnConfig); err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrating the schema of %s: %w", describe(cfg.ConnConfig.Config), err)
	}
	return &Store{pool: pool, connConfig: cfg.ConnConfig.Copy(), feed: defaultFeedSettings()}, nil
}

// Pool returns the store's connection pool, for code that needs
// PostgreSQL itself (such as LISTEN).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes every connection of the store.
func (s *Store) Close() { s.pool.Close() }

// describe names a database without its credentials: host:port/database.
func describe(c pgconn.Config) string {
	return net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))) + "/" + c.Database
}

// retry runs op, and once more when it failed because its connection was
// gone: after a server restart the pool still holds connections made
// before it, and the caller should not see them fail one by one. The pool
// is reset so the second attempt gets a new connection. op runs again only
// if it is idempotent or was never sent.
func (s *Store) retry(idempotent bool, op func() error) error {
	err := op()
	if err == nil || !connectionLost(err) {
		return err
	}
	s.pool.Reset()
	if !idempotent && !pgconn.SafeToRetry(err) {
		return err
	}
	return op()
}
