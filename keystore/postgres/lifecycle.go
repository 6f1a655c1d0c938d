package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keygate/keygate/keystore"
)

// GetKey implements keystore.Store.
func (s *Store) GetKey(ctx context.Context, id string) (keystore.Key, error) {
	var k keystore.Key
	err := s.retry(true, func() error {
		var err error
		k, err = scanKey(s.pool.QueryRow(ctx,
			`SELECT `+keyColumns+` FROM keygate_keys WHERE id = $1 AND deleted_at IS NULL`, id))
		return err
	})
	if err != nil {
		return keystore.Key{}, wrapErr("reading key "+id, err)
	}
	return k, nil
}

// RotateKey implements keystore.Store.
func (s *Store) RotateKey(ctx context.Context, old string, next keystore.NewKey, oldExpires time.Time) (keystore.Key, error) {
	if err := next.ValidateForRotation(); err != nil {
		return keystore.Key{}, fmt.Errorf("rotating key %s: %w", old, err)
	}
	var updated keystore.Key
	err := s.retry(false, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var revoked nullableTime
			var rotateEvery *int64
			err := tx.QueryRow(ctx, `SELECT name, integration_id, revoked_at, exchange_only, rotate_every_seconds
				FROM keygate_keys WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, old).
				Scan(&next.Name, &next.IntegrationID, &revoked, &next.ExchangeOnly, &rotateEvery)
			if err != nil {
				return err
			}
			if revoked.Valid {
				return keystore.ErrAlreadyRevoked
			}
			if _, err := tx.Exec(ctx, `INSERT INTO keygate_keys
				(id, integration_id, name, key_hash, created_at, expires_at, exchange_only, rotate_every_seconds)
				VALUES ($1, $2, $3, $4, COALESCE($5, now()), $6, $7, $8)`,
				next.ID, next.IntegrationID, next.Name, next.Hash[:], nullTime(next.CreatedAt), next.ExpiresAt,
				next.ExchangeOnly, rotateEvery); err != nil {
				return err
			}
			updated, err = scanKey(tx.QueryRow(ctx, `UPDATE keygate_keys
				SET expires_at = LEAST(COALESCE(expires_at, $2), $2)
				WHERE id = $1 RETURNING `+keyColumns, old, oldExpires))
			return err
		})
	})
	if err != nil {
		return keystore.Key{}, wrapErr("rotating key "+old, err)
	}
	return updated, nil
}

// DeleteKey implements keystore.Store.
func (s *Store) DeleteKey(ctx context.Context, id string, at time.Time) (keystore.Key, error) {
	if at.IsZero() {
		at = time.Now()
	}
	var k keystore.Key
	err := s.retry(false, func() error {
		var err error
		k, err = scanKey(s.pool.QueryRow(ctx, `UPDATE keygate_keys SET deleted_at = $2
			WHERE id = $1 AND deleted_at IS NULL RETURNING `+keyColumns, id, at))
		return err
	})
	if err != nil {
		return keystore.Key{}, wrapErr("deleting key "+id, err)
	}
	return k, nil
}

// errIsDomain reports whether err is one of the keystore errors a store
// method returns on purpose, which say nothing of the connection.
func errIsDomain(err error) bool {
	return errors.Is(err, keystore.ErrNotFound) || errors.Is(err, keystore.ErrAlreadyRevoked) ||
		errors.Is(err, keystore.ErrIntegrationInUse)
}
