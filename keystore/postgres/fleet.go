package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keygate/keygate/keystore"
)

// The fleet table (migration 0004), keystore.FleetStore. Each write of a
// row NOTIFYs fleetChannel with the applied sequence, so that WatchFleet
// waits on LISTEN rather than polling.
const fleetChannel = "keygate_gateways"

var _ keystore.FleetStore = (*Store)(nil)

// liveSQL is the liveness rule of keystore's fleet.go for a row g, on the
// server's clock.
var liveSQL = fmt.Sprintf(`(now() - g.last_seen_at < make_interval(secs => (g.stale_ttl_ms + %d) / 1000.0))`,
	keystore.LivenessMargin.Milliseconds())

// recordSQL upserts an instance's row, NOTIFYs its applied sequence and
// counts the live instances: the others that are live, and this one.
var recordSQL = `WITH up AS (
	INSERT INTO keygate_gateways AS g (instance_id, hostname, version, started_at, stale_ttl_ms, applied_seq, last_seen_at)
	VALUES ($1, $2, $3, $4, $5, $6, now())
	ON CONFLICT (instance_id) DO UPDATE SET hostname = EXCLUDED.hostname, version = EXCLUDED.version,
		stale_ttl_ms = EXCLUDED.stale_ttl_ms, applied_seq = EXCLUDED.applied_seq, last_seen_at = EXCLUDED.last_seen_at
	RETURNING g.applied_seq
)
SELECT pg_notify('` + fleetChannel + `', up.applied_seq::text) IS NULL,
	1 + (SELECT count(*) FROM keygate_gateways g WHERE g.instance_id <> $1 AND ` + liveSQL + `)
FROM up`

// querier is what runs the fleet's statements: the pool, or the change
// feed's own connection.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// recordGateway writes self's row on q.
func recordGateway(ctx context.Context, q querier, self keystore.Instance, applied int64) (int, error) {
	var ignored bool
	var live int
	err := q.QueryRow(ctx, recordSQL, self.ID, self.Hostname, self.Version, self.StartedAt,
		self.StaleTTL.Milliseconds(), applied).Scan(&ignored, &live)
	if err != nil {
		return 0, fmt.Errorf("recording this gateway in keygate_gateways: %w", err)
	}
	return live, nil
}

// RecordGateway implements keystore.FleetStore.
func (s *Store) RecordGateway(ctx context.Context, self keystore.Instance, applied int64) (int, error) {
	var live int
	err := s.retry(true, func() error {
		var err error
		live, err = recordGateway(ctx, s.pool, self, applied)
		return err
	})
	if err != nil {
		return 0, wrapErr("recording gateway "+self.ID, err)
	}
	return live, nil
}

// ForgetGateway implements keystore.FleetStore.
func (s *Store) ForgetGateway(ctx context.Context, id string) error {
	err := s.retry(true, func() error {
		_, err := s.pool.Exec(ctx, `DELETE FROM keygate_gateways WHERE instance_id = $1`, id)
		return err
	})
	if err != nil {
		return wrapErr("forgetting gateway "+id, err)
	}
	return nil
}

// fleetSQL reads the fleet and the feed's head in one snapshot.
var fleetSQL = `SELECT now(), h.seq, g.instance_id, g.hostname, g.version, g.started_at, g.stale_ttl_ms,
	g.applied_seq, g.last_seen_at, ` + liveSQL + `
FROM (SELECT GREATEST(COALESCE((SELECT seq FROM keygate_changes_pruned), 0),
	COALESCE((SELECT max(seq) FROM keygate_changes), 0)) AS seq) h
LEFT JOIN keygate_gateways g ON true
ORDER BY g.hostname, g.instance_id`

// readFleet runs fleetSQL on q.
func readFleet(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}) (keystore.Fleet, error) {
	rows, err := q.Query(ctx, fleetSQL)
	if err != nil {
		return keystore.Fleet{}, err
	}
	var f keystore.Fleet
	var id, host, version *string
	var started, seen *time.Time
	var ttl, applied *int64
	var live *bool
	_, err = pgx.ForEachRow(rows, []any{&f.Now, &f.Head, &id, &host, &version, &started, &ttl, &applied, &seen, &live}, func() error {
		if id == nil {
			return nil // no gateway: the one row of the LEFT JOIN
		}
		f.Gateways = append(f.Gateways, keystore.Gateway{
			Instance: keystore.Instance{ID: *id, Hostname: *host, Version: *version, StartedAt: started.UTC(),
				StaleTTL: time.Duration(*ttl) * time.Millisecond},
			AppliedSeq: *applied, LastSeen: seen.UTC(), Live: *live,
		})
		return nil
	})
	f.Now = f.Now.UTC()
	return f, err
}

// Fleet implements keystore.FleetStore.
func (s *Store) Fleet(ctx context.Context) (keystore.Fleet, error) {
	var f keystore.Fleet
	err := s.retry(true, func() error {
		var err error
		f, err = readFleet(ctx, s.pool)
		return err
	})
	if err != nil {
		return keystore.Fleet{}, wrapErr("reading keygate_gateways", err)
	}
	return f, nil
}

// FeedHead implements keystore.FleetStore.
func (s *Store) FeedHead(ctx context.Context) (int64, error) {
	var seq int64
	err := s.retry(true, func() error {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		seq, err = feedPosition(ctx, conn.Conn())
		return err
	})
	if err != nil {
		return 0, wrapErr("reading the change feed's head", err)
	}
	return seq, nil
}

// fleetRecheck is the longest WatchFleet waits without a notification
// before reading the fleet again: rows turn stale by time alone.
const fleetRecheck = time.Second

// WatchFleet implements keystore.FleetStore with LISTEN on a connection of
// the pool: it reads the fleet, then again on each notification of a row
// that applied a sequence above those it has seen (heartbeats of rows
// already read change nothing but liveness), and at least every second.
func (s *Store) WatchFleet(ctx context.Context, done func(keystore.Fleet) bool) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return wrapErr("watching keygate_gateways", err)
	}
	pc := conn.Conn()
	defer func() {
		// A connection left listening, or cut short by ctx, is not
		// handed back to the pool as it is.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if _, err := pc.Exec(uctx, "UNLISTEN *"); err != nil {
			_ = pc.Close(uctx)
		}
		conn.Release()
	}()
	if _, err := pc.Exec(ctx, "LISTEN "+fleetChannel); err != nil {
		return wrapErr("listening on "+fleetChannel, err)
	}
	for {
		f, err := readFleet(ctx, pc)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return wrapErr("reading keygate_gateways", err)
		}
		if done(f) {
			return nil
		}
		if err := waitFleetNews(ctx, pc, f); err != nil {
			return err
		}
	}
}

// waitFleetNews waits for a notification that a row applied a sequence
// none of f's rows has yet, or for fleetRecheck.
func waitFleetNews(ctx context.Context, conn *pgx.Conn, f keystore.Fleet) error {
	least := f.Head
	for _, g := range f.Gateways {
		least = min(least, g.AppliedSeq)
	}
	wake := time.Now().Add(fleetRecheck)
	for {
		wctx, cancel := context.WithDeadline(ctx, wake)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && (pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded)):
			return nil
		case err != nil:
			return wrapErr("waiting for "+fleetChannel, err)
		}
		if seq, perr := strconv.ParseInt(n.Payload, 10, 64); perr != nil || seq > least || !time.Now().Before(wake) {
			return nil
		}
	}
}
