package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate/keystore"
)

// touchSQL records a batch of uses in one statement: it moves
// last_used_at forward, adds the request counts to their buckets and
// prunes the buckets past retention ($5). The change feed's trigger
// ignores last_used_at, so this never notifies. Counts only go to keys
// that exist, which the join with keygate_keys ensures.
const touchSQL = `WITH u AS (
	SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::bigint[]) AS u(id, at, bucket, requests)
), touched AS (
	UPDATE keygate_keys k SET last_used_at = u.at
	FROM u
	WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)
), counted AS (
	INSERT INTO keygate_key_usage (key_id, bucket, requests)
	SELECT u.id, u.bucket, u.requests FROM u JOIN keygate_keys k ON k.id = u.id
	WHERE u.requests > 0
	ON CONFLICT (key_id, bucket) DO UPDATE SET requests = keygate_key_usage.requests + EXCLUDED.requests
)
DELETE FROM keygate_key_usage WHERE bucket < $5`

// TouchKeys implements keystore.Store, in one statement (touchSQL).
func (s *Store) TouchKeys(ctx context.Context, uses map[string]keystore.Use) error {
	if len(uses) == 0 {
		return nil
	}
	ids := make([]string, 0, len(uses))
	ats := make([]time.Time, 0, len(uses))
	buckets := make([]time.Time, 0, len(uses))
	counts := make([]int64, 0, len(uses))
	var latest time.Time
	for id, use := range uses {
		ids, ats = append(ids, id), append(ats, use.Last)
		buckets, counts = append(buckets, keystore.BucketStart(use.Last)), append(counts, use.Requests)
		if use.Last.After(latest) {
			latest = use.Last
		}
	}
	cutoff := keystore.BucketStart(latest.Add(-keystore.UsageRetention))
	// Retried only if never sent: a retry after a lost reply could count
	// the requests twice; a failed batch is kept by the recorder for its
	// next flush.
	err := s.retry(false, func() error {
		_, err := s.pool.Exec(ctx, touchSQL, ids, ats, buckets, counts, cutoff)
		return err
	})
	if err != nil {
		return wrapErr(fmt.Sprintf("recording the use of %d keys", len(uses)), err)
	}
	return nil
}

// KeyUsage implements keystore.Store.
func (s *Store) KeyUsage(ctx context.Context, id string, since time.Time) ([]keystore.UsageCount, error) {
	var out []keystore.UsageCount
	err := s.retry(true, func() error {
		rows, err := s.pool.Query(ctx, `SELECT bucket, requests FROM keygate_key_usage
			WHERE key_id = $1 AND bucket >= $2 ORDER BY bucket`, id, since)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (keystore.UsageCount, error) {
			var c keystore.UsageCount
			err := row.Scan(&c.Start, &c.Requests)
			c.Start = c.Start.UTC()
			return c, err
		})
		return err
	})
	if err != nil {
		return nil, wrapErr("reading the usage of key "+id, err)
	}
	return out, nil
}
