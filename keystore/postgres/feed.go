package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate/keystore"
)

// The change feed in the database (migration 0002): table keygate_changes,
// filled by triggers on keys and integrations, and keygate_changes_pruned,
// the sequence through which it was pruned. Each change is NOTIFYed on
// feedChannel with its sequence as the payload.
const (
	feedChannel = "keygate_changes"
	// feedLock is the transaction-scoped advisory lock the triggers take
	// before numbering a change, so that sequence order is commit order.
	// 'keygate' in ASCII, as in the migration.
	feedLock int64 = 30229394607928421
)

// feedBatch is one read of the feed: the changes after a sequence, in
// order, and the sequence through which older ones were pruned.
type feedBatch struct {
	pruned  int64
	changes []keystore.FeedChange
}

// readChangesSQL reads, in one statement and so one snapshot, the pruning
// mark and up to $2 changes after sequence $1. It returns one row with a
// NULL sequence when there is no change.
const readChangesSQL = `SELECT p.seq, c.seq, COALESCE(c.key_id, ''), c.key_hash, COALESCE(c.integration_id, ''), COALESCE(c.op, '')
FROM (SELECT COALESCE((SELECT seq FROM keygate_changes_pruned), 0) AS seq) p
LEFT JOIN LATERAL (
	SELECT seq, key_id, key_hash, integration_id, op FROM keygate_changes
	WHERE seq > $1 ORDER BY seq LIMIT $2
) c ON true
ORDER BY c.seq`

// readChanges returns the changes after sequence `after`, at most limit of
// them.
func readChanges(ctx context.Context, conn *pgx.Conn, after int64, limit int) (feedBatch, error) {
	rows, err := conn.Query(ctx, readChangesSQL, after, limit)
	if err != nil {
		return feedBatch{}, err
	}
	var b feedBatch
	var seq *int64 // NULL in the row that says there is no change
	var c keystore.FeedChange
	_, err = pgx.ForEachRow(rows, []any{&b.pruned, &seq, &c.KeyID, &c.KeyHash, &c.IntegrationID, &c.Op}, func() error {
		if seq != nil {
			c.Seq = *seq
			b.changes = append(b.changes, c)
		}
		c = keystore.FeedChange{}
		return nil
	})
	return b, err
}

// feedPosition returns the sequence a new follower starts after: the last
// change committed so far.
func feedPosition(ctx context.Context, conn *pgx.Conn) (int64, error) {
	var seq int64
	err := conn.QueryRow(ctx, `SELECT GREATEST(
		COALESCE((SELECT seq FROM keygate_changes_pruned), 0),
		COALESCE((SELECT max(seq) FROM keygate_changes), 0))`).Scan(&seq)
	return seq, err
}

// pruneSQL deletes the changes recorded before $1, and every change
// numbered before them, and moves the pruning mark past them, in one
// statement. It needs no lock: a change still being written is numbered
// after every committed one, so it is never below the mark; and a second
// pruner's UPDATE waits for the first's, then sees its mark.
const pruneSQL = `WITH cut AS (
	SELECT max(seq) AS seq FROM keygate_changes WHERE changed_at < $1
), deleted AS (
	DELETE FROM keygate_changes WHERE seq <= (SELECT seq FROM cut)
)
UPDATE keygate_changes_pruned SET seq = cut.seq FROM cut WHERE cut.seq > keygate_changes_pruned.seq
RETURNING keygate_changes_pruned.seq`

// pruneFeed deletes the changes recorded before cutoff, and the rows of
// gateways last seen before it, and returns the
// sequence the feed is now pruned through, or 0 when nothing was pruned.
// It runs as a single statement, never an open transaction that a
// connection lost midway could leave holding locks.
func pruneFeed(ctx context.Context, conn *pgx.Conn, cutoff time.Time) (through int64, err error) {
	// Gateways not seen since the cutoff are long stale (FleetRetention).
	if _, err := conn.Exec(ctx, `DELETE FROM keygate_gateways WHERE last_seen_at < $1`, cutoff); err != nil {
		return 0, fmt.Errorf("pruning keygate_gateways: %w", err)
	}
	err = conn.QueryRow(ctx, pruneSQL, cutoff).Scan(&through)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil // nothing old enough
	case err != nil:
		return 0, fmt.Errorf("pruning the change feed: %w", err)
	}
	return through, nil
}
