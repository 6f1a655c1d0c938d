package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/keygate/keygate/keystore"
)

// touchBatch bounds the keys of one statement of TouchKeys, well under
// SQLite's limit on bound parameters.
const touchBatch = 500

// TouchKeys implements keystore.Store in one transaction: per touchBatch
// keys, one statement moves last_used_at forward and one adds the request
// counts to their buckets; then one prunes the buckets past retention.
func (s *Store) TouchKeys(ctx context.Context, uses map[string]keystore.Use) error {
	if len(uses) == 0 {
		return nil
	}
	var latest time.Time
	args := make([]any, 0, 4*min(len(uses), touchBatch))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for id, use := range uses {
			args = append(args, id, formatTime(use.Last), formatTime(keystore.BucketStart(use.Last)), use.Requests)
			if use.Last.After(latest) {
				latest = use.Last
			}
			if len(args) == 4*touchBatch {
				if err := touch(ctx, tx, args); err != nil {
					return err
				}
				args = args[:0]
			}
		}
		if len(args) > 0 {
			if err := touch(ctx, tx, args); err != nil {
				return err
			}
		}
		cutoff := keystore.BucketStart(latest.Add(-keystore.UsageRetention))
		_, err := tx.ExecContext(ctx, `DELETE FROM keygate_key_usage WHERE bucket < ?`, formatTime(cutoff))
		return err
	})
	if err != nil {
		return wrapErr(fmt.Sprintf("recording the use of %d keys", len(uses)), err)
	}
	return nil
}

// touch runs the statements for the (id, time, bucket, requests) tuples
// in args.
func touch(ctx context.Context, tx *sql.Tx, args []any) error {
	values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", len(args)/4), ", ")
	uses := `(SELECT column1 AS id, column2 AS at, column3 AS bucket, column4 AS requests FROM (VALUES ` + values + `))`
	if _, err := tx.ExecContext(ctx, `UPDATE keygate_keys SET last_used_at = u.at
		FROM `+uses+` AS u
		WHERE keygate_keys.id = u.id
			AND (keygate_keys.last_used_at IS NULL OR julianday(keygate_keys.last_used_at) < julianday(u.at))`, args...); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO keygate_key_usage (key_id, bucket, requests)
		SELECT u.id, u.bucket, u.requests FROM `+uses+` AS u JOIN keygate_keys k ON k.id = u.id
		WHERE u.requests > 0
		ON CONFLICT (key_id, bucket) DO UPDATE SET requests = requests + excluded.requests`, args...)
	return err
}

// KeyUsage implements keystore.Store.
func (s *Store) KeyUsage(ctx context.Context, id string, since time.Time) ([]keystore.UsageCount, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT bucket, requests FROM keygate_key_usage
		WHERE key_id = ? AND bucket >= ? ORDER BY bucket`, id, formatTime(since))
	if err != nil {
		return nil, wrapErr("reading the usage of key "+id, err)
	}
	defer rows.Close()
	var out []keystore.UsageCount
	for rows.Next() {
		var bucket string
		var c keystore.UsageCount
		if err := rows.Scan(&bucket, &c.Requests); err != nil {
			return nil, wrapErr("reading the usage of key "+id, err)
		}
		if c.Start, err = parseTime(bucket); err != nil {
			return nil, wrapErr("reading the usage of key "+id, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("reading the usage of key "+id, err)
	}
	return out, nil
}
