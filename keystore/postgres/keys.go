package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keygate/keygate/keystore"
)

// lookupSQL finds a key's credential by hash through the unique index on
// key_hash. pgx prepares it once per connection and reuses it (its default
// cache-statement mode), as this is the verifier's cache-miss path.
// A deleted key reads as revoked at its deletion.
const lookupSQL = lookupColumns + `WHERE k.key_hash = $1`

// lookupByIDSQL finds a key's credential by id, for an access token's
// parent key.
const lookupByIDSQL = lookupColumns + `WHERE k.id = $1`

const lookupColumns = `SELECT k.id, k.name, k.integration_id, i.base_url, k.created_at, k.expires_at,
	COALESCE(k.revoked_at, k.deleted_at), k.exchange_only
FROM keygate_keys k JOIN keygate_integrations i ON i.id = k.integration_id
`

// keyColumns are the columns scanKey reads, in order.
const keyColumns = `id, name, integration_id, created_at, expires_at, revoked_at, last_used_at,
	exchange_only, rotate_every_seconds`

// LookupCredential implements keystore.Store.
func (s *Store) LookupCredential(ctx context.Context, hash keystore.Hash) (keystore.Credential, error) {
	return s.lookup(ctx, lookupSQL, hash[:])
}

// LookupCredentialByID is LookupCredential by key id.
func (s *Store) LookupCredentialByID(ctx context.Context, id string) (keystore.Credential, error) {
	return s.lookup(ctx, lookupByIDSQL, id)
}

func (s *Store) lookup(ctx context.Context, sql string, arg any) (keystore.Credential, error) {
	var c keystore.Credential
	err := s.retry(true, func() error {
		var created, expires, revoked nullableTime
		err := s.pool.QueryRow(ctx, sql, arg).
			Scan(&c.KeyID, &c.KeyName, &c.IntegrationID, &c.BaseURL, &created, &expires, &revoked, &c.ExchangeOnly)
		c.CreatedAt, c.ExpiresAt, c.RevokedAt = created.instant(), expires.instant(), revoked.instant()
		return err
	})
	if err != nil {
		return keystore.Credential{}, wrapErr("looking up key", err)
	}
	return c, nil
}

// CreateKey implements keystore.Store.
func (s *Store) CreateKey(ctx context.Context, k keystore.NewKey) error {
	if err := k.Validate(); err != nil {
		return fmt.Errorf("creating key: %w", err)
	}
	err := s.retry(false, func() error {
		_, err := s.pool.Exec(ctx, `INSERT INTO keygate_keys
			(id, integration_id, name, key_hash, created_at, expires_at, revoked_at, last_used_at,
			exchange_only, rotate_every_seconds)
			VALUES ($1, $2, $3, $4, COALESCE($5, now()), $6, $7, $8, $9, $10)`,
			k.ID, k.IntegrationID, k.Name, k.Hash[:], nullTime(k.CreatedAt), k.ExpiresAt, k.RevokedAt, k.LastUsedAt,
			k.ExchangeOnly, nullSeconds(k.RotateEvery))
		return err
	})
	if err != nil {
		return wrapErr("creating key "+k.ID, err)
	}
	return nil
}

// ListKeys implements keystore.Store.
func (s *Store) ListKeys(ctx context.Context, f keystore.KeyFilter) ([]keystore.Key, error) {
	sql := `SELECT ` + keyColumns + ` FROM keygate_keys WHERE deleted_at IS NULL`
	var args []any
	if f.IntegrationID != "" {
		sql += ` AND integration_id = $1`
		args = append(args, f.IntegrationID)
	}
	sql += ` ORDER BY created_at, id`
	if f.Limit > 0 {
		sql += fmt.Sprintf(` LIMIT %d OFFSET %d`, f.Limit, max(f.Offset, 0))
	}
	var keys []keystore.Key
	err := s.retry(true, func() error {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		keys, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (keystore.Key, error) { return scanKey(row) })
		return err
	})
	if err != nil {
		return nil, wrapErr("listing keys", err)
	}
	return keys, nil
}

// RevokeKey implements keystore.Store.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) (keystore.Key, error) {
	if at.IsZero() {
		at = time.Now()
	}
	var k keystore.Key
	err := s.retry(false, func() error {
		var err error
		k, err = scanKey(s.pool.QueryRow(ctx, `UPDATE keygate_keys SET revoked_at = $2
			WHERE id = $1 AND revoked_at IS NULL AND deleted_at IS NULL RETURNING `+keyColumns, id, at))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.revokeFailure(ctx, id)
	}
	if err != nil {
		return keystore.Key{}, wrapErr("revoking key "+id, err)
	}
	return k, nil
}

// revokeFailure tells why no unrevoked key has this id: there is no such
// key (or it is deleted), or it is revoked already.
func (s *Store) revokeFailure(ctx context.Context, id string) error {
	var exists bool
	err := s.retry(true, func() error {
		return s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM keygate_keys WHERE id = $1 AND deleted_at IS NULL)`, id).Scan(&exists)
	})
	switch {
	case err != nil:
		return err
	case exists:
		return keystore.ErrAlreadyRevoked
	}
	return keystore.ErrNotFound
}

// scanKey reads the keyColumns of one row.
func scanKey(row pgx.Row) (keystore.Key, error) {
	var k keystore.Key
	var expires, revoked, lastUsed nullableTime
	var rotateEvery *int64
	if err := row.Scan(&k.ID, &k.Name, &k.IntegrationID, &k.CreatedAt, &expires, &revoked, &lastUsed,
		&k.ExchangeOnly, &rotateEvery); err != nil {
		return keystore.Key{}, err
	}
	k.RotateEvery = seconds(rotateEvery)
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt, k.RevokedAt, k.LastUsedAt = expires.ptr(), revoked.ptr(), lastUsed.ptr()
	return k, nil
}
