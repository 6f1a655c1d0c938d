package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keygate/keygate/keystore"
)

// GetKey implements keystore.Store.
func (s *Store) GetKey(ctx context.Context, id string) (keystore.Key, error) {
	k, err := scanKey(s.reader.QueryRowContext(ctx,
		`SELECT `+keyColumns+` FROM keygate_keys WHERE id = ? AND deleted_at IS NULL`, id))
	if err != nil {
		return keystore.Key{}, wrapErr("reading key "+id, err)
	}
	return k, nil
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE: the writer's
// transactions take the write lock up front) and commits it unless fn
// failed.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// RotateKey implements keystore.Store.
func (s *Store) RotateKey(ctx context.Context, old string, next keystore.NewKey, oldExpires time.Time) (keystore.Key, error) {
	if err := next.ValidateForRotation(); err != nil {
		return keystore.Key{}, fmt.Errorf("rotating key %s: %w", old, err)
	}
	if next.CreatedAt.IsZero() {
		next.CreatedAt = time.Now()
	}
	var updated keystore.Key
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var revoked sql.NullString
		var rotateEvery sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT name, integration_id, revoked_at, exchange_only, rotate_every_seconds
			FROM keygate_keys WHERE id = ? AND deleted_at IS NULL`, old).
			Scan(&next.Name, &next.IntegrationID, &revoked, &next.ExchangeOnly, &rotateEvery)
		if err != nil {
			return err
		}
		if revoked.Valid {
			return keystore.ErrAlreadyRevoked
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO keygate_keys
			(id, integration_id, name, key_hash, created_at, expires_at, exchange_only, rotate_every_seconds)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			next.ID, next.IntegrationID, next.Name, next.Hash[:], formatTime(next.CreatedAt), nullTime(next.ExpiresAt),
			next.ExchangeOnly, rotateEvery); err != nil {
			return err
		}
		// Compared as instants: an operator may have written expires_at in
		// another form.
		updated, err = scanKey(tx.QueryRowContext(ctx, `UPDATE keygate_keys
			SET expires_at = CASE WHEN expires_at IS NOT NULL AND julianday(expires_at) <= julianday(?1)
				THEN expires_at ELSE ?1 END
			WHERE id = ?2 RETURNING `+keyColumns, formatTime(oldExpires), old))
		return err
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
	k, err := scanKey(s.writer.QueryRowContext(ctx, `UPDATE keygate_keys SET deleted_at = ?
		WHERE id = ? AND deleted_at IS NULL RETURNING `+keyColumns, formatTime(at), id))
	if err != nil {
		return keystore.Key{}, wrapErr("deleting key "+id, err)
	}
	return k, nil
}
