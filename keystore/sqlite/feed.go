package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keygate/keygate/keystore"
)

// The change feed in the database (migration 0002): table keygate_changes,
// filled by triggers on keys and integrations, and keygate_changes_pruned,
// the sequence through which it was pruned.

// feedBatch is one read of the feed: the changes after a sequence, in
// order, and the sequence through which older ones were pruned.
type feedBatch struct {
	pruned  int64
	changes []keystore.FeedChange
}

// readChangesSQL reads, in one statement and so one snapshot, the pruning
// mark and up to ? changes after sequence ?, through the primary key. It
// returns one row with NULL change columns when there is no change: this
// is the read a follower polls with.
const readChangesSQL = `SELECT p.seq, c.seq, c.key_id, c.key_hash, c.integration_id, c.op
FROM keygate_changes_pruned p
LEFT JOIN (
	SELECT seq, key_id, key_hash, integration_id, op FROM keygate_changes
	WHERE seq > ? ORDER BY seq LIMIT ?
) c ON 1
ORDER BY c.seq`

// readChanges returns the changes after sequence `after`, at most limit of
// them.
func (s *Store) readChanges(ctx context.Context, after int64, limit int) (feedBatch, error) {
	rows, err := s.reader.QueryContext(ctx, readChangesSQL, after, limit)
	if err != nil {
		return feedBatch{}, err
	}
	defer rows.Close()
	var b feedBatch
	for rows.Next() {
		var seq sql.NullInt64
		var keyID, integrationID, op sql.NullString
		var hash []byte
		if err := rows.Scan(&b.pruned, &seq, &keyID, &hash, &integrationID, &op); err != nil {
			return feedBatch{}, err
		}
		if seq.Valid {
			b.changes = append(b.changes, keystore.FeedChange{
				Seq: seq.Int64, KeyID: keyID.String, KeyHash: hash, IntegrationID: integrationID.String, Op: op.String,
			})
		}
	}
	return b, rows.Err()
}

// feedPosition returns the sequence a new follower starts after: the last
// change committed so far.
func (s *Store) feedPosition(ctx context.Context) (int64, error) {
	var seq int64
	err := s.reader.QueryRowContext(ctx, `SELECT max(
		(SELECT seq FROM keygate_changes_pruned),
		COALESCE((SELECT max(seq) FROM keygate_changes), 0))`).Scan(&seq)
	return seq, err
}

// pruneFeed deletes the changes recorded before cutoff, and every change
// numbered before them, and moves the pruning mark past them; and the rows
// of gateways last seen before cutoff. It returns
// the sequence the feed is now pruned through, or 0 when nothing was
// pruned. SQLite runs one write transaction at a time, so no change is
// being numbered meanwhile.
func (s *Store) pruneFeed(ctx context.Context, cutoff time.Time) (int64, error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("pruning the change feed: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op once committed
	// Gateways not seen since the cutoff are long stale (FleetRetention).
	if _, err := tx.ExecContext(ctx, `DELETE FROM keygate_gateways WHERE last_seen_at < ?`, formatTime(cutoff)); err != nil {
		return 0, fmt.Errorf("pruning keygate_gateways: %w", err)
	}
	var cut sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(seq) FROM keygate_changes WHERE changed_at < ?`,
		formatTime(cutoff)).Scan(&cut); err != nil {
		return 0, fmt.Errorf("pruning the change feed: %w", err)
	}
	if !cut.Valid {
		return 0, tx.Commit() // no change old enough
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM keygate_changes WHERE seq <= ?`, cut.Int64); err != nil {
		return 0, fmt.Errorf("pruning the change feed: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE keygate_changes_pruned SET seq = ? WHERE seq < ?`, cut.Int64, cut.Int64); err != nil {
		return 0, fmt.Errorf("pruning the change feed: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("pruning the change feed: %w", err)
	}
	return cut.Int64, nil
}
