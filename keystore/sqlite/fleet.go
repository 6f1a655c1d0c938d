package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keygate/keygate/keystore"
)

// The fleet table (migration 0004), keystore.FleetStore. SQLite has no
// NOTIFY: WatchFleet polls the table, which every instance writes when it
// applies a change.

// FleetPoll is how often WatchFleet reads the fleet table: one indexed
// read of a few rows, so a confirmation ends within about this time of
// the last instance's record.
const FleetPoll = 2 * time.Millisecond

var _ keystore.FleetStore = (*Store)(nil)

// liveSQL is the liveness rule of keystore's fleet.go for a row g, on the
// machine's clock, which every process on the file shares.
var liveSQL = fmt.Sprintf(`((julianday('now') - julianday(g.last_seen_at)) * 86400000.0 < g.stale_ttl_ms + %d)`,
	keystore.LivenessMargin.Milliseconds())

const recordSQL = `INSERT INTO keygate_gateways AS g
	(instance_id, hostname, version, started_at, stale_ttl_ms, applied_seq, last_seen_at)
VALUES (?, ?, ?, ?, ?, ?, strftime('%Y-%m-%d %H:%M:%f', 'now'))
ON CONFLICT (instance_id) DO UPDATE SET hostname = excluded.hostname, version = excluded.version,
	stale_ttl_ms = excluded.stale_ttl_ms, applied_seq = excluded.applied_seq, last_seen_at = excluded.last_seen_at`

// RecordGateway implements keystore.FleetStore, on the writer.
func (s *Store) RecordGateway(ctx context.Context, self keystore.Instance, applied int64) (int, error) {
	if _, err := s.writer.ExecContext(ctx, recordSQL, self.ID, self.Hostname, self.Version,
		formatTime(self.StartedAt), self.StaleTTL.Milliseconds(), applied); err != nil {
		return 0, wrapErr("recording gateway "+self.ID+" in keygate_gateways", err)
	}
	var live int
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM keygate_gateways g WHERE `+liveSQL).Scan(&live); err != nil {
		return 0, wrapErr("counting live gateways", err)
	}
	return live, nil
}

// ForgetGateway implements keystore.FleetStore.
func (s *Store) ForgetGateway(ctx context.Context, id string) error {
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM keygate_gateways WHERE instance_id = ?`, id); err != nil {
		return wrapErr("forgetting gateway "+id, err)
	}
	return nil
}

// fleetSQL reads the fleet and the feed's head in one statement, so one
// snapshot.
var fleetSQL = `SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'),
	max((SELECT seq FROM keygate_changes_pruned), COALESCE((SELECT max(seq) FROM keygate_changes), 0)),
	g.instance_id, g.hostname, g.version, g.started_at, g.stale_ttl_ms, g.applied_seq, g.last_seen_at, ` + liveSQL + `
FROM (SELECT 1) LEFT JOIN keygate_gateways g ON 1
ORDER BY g.hostname, g.instance_id`

// Fleet implements keystore.FleetStore.
func (s *Store) Fleet(ctx context.Context) (keystore.Fleet, error) {
	rows, err := s.reader.QueryContext(ctx, fleetSQL)
	if err != nil {
		return keystore.Fleet{}, wrapErr("reading keygate_gateways", err)
	}
	defer rows.Close()
	var f keystore.Fleet
	for rows.Next() {
		var now string
		var id, host, version, started, seen sql.NullString
		var ttl, applied sql.NullInt64
		var live sql.NullBool
		if err := rows.Scan(&now, &f.Head, &id, &host, &version, &started, &ttl, &applied, &seen, &live); err != nil {
			return keystore.Fleet{}, wrapErr("reading keygate_gateways", err)
		}
		if f.Now, err = parseTime(now); err != nil {
			return keystore.Fleet{}, err
		}
		if !id.Valid {
			continue // no gateway: the one row of the LEFT JOIN
		}
		g := keystore.Gateway{
			Instance: keystore.Instance{ID: id.String, Hostname: host.String, Version: version.String,
				StaleTTL: time.Duration(ttl.Int64) * time.Millisecond},
			AppliedSeq: applied.Int64, Live: live.Bool,
		}
		if g.StartedAt, err = parseTime(started.String); err != nil {
			return keystore.Fleet{}, fmt.Errorf("reading keygate_gateways: started_at of %s: %w", g.ID, err)
		}
		if g.LastSeen, err = parseTime(seen.String); err != nil {
			return keystore.Fleet{}, fmt.Errorf("reading keygate_gateways: last_seen_at of %s: %w", g.ID, err)
		}
		f.Gateways = append(f.Gateways, g)
	}
	if err := rows.Err(); err != nil {
		return keystore.Fleet{}, wrapErr("reading keygate_gateways", err)
	}
	return f, nil
}

// FeedHead implements keystore.FleetStore.
func (s *Store) FeedHead(ctx context.Context) (int64, error) {
	seq, err := s.feedPosition(ctx)
	if err != nil {
		return 0, wrapErr("reading the change feed's head", err)
	}
	return seq, nil
}

// WatchFleet implements keystore.FleetStore: it reads the fleet every
// FleetPoll.
func (s *Store) WatchFleet(ctx context.Context, done func(keystore.Fleet) bool) error {
	tick := time.NewTicker(FleetPoll)
	defer tick.Stop()
	for {
		f, err := s.Fleet(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if done(f) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
