package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keygate/keygate/keystore"
)

// lookupSQL finds a key's credential by hash through the unique index on
// key_hash.
// A deleted key reads as revoked at its deletion.
const lookupSQL = lookupColumns + `WHERE k.key_hash = ?`

// lookupByIDSQL finds a key's credential by id, for an access token's
// parent key.
const lookupByIDSQL = lookupColumns + `WHERE k.id = ?`

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

func (s *Store) lookup(ctx context.Context, query string, arg any) (keystore.Credential, error) {
	if gone := s.gone.Load(); gone != nil {
		return keystore.Credential{}, *gone // see follower.fileThere
	}
	var c keystore.Credential
	var created, expires, revoked sql.NullString
	err := s.reader.QueryRowContext(ctx, query, arg).
		Scan(&c.KeyID, &c.KeyName, &c.IntegrationID, &c.BaseURL, &created, &expires, &revoked, &c.ExchangeOnly)
	if err != nil {
		return keystore.Credential{}, wrapErr("looking up key", err)
	}
	c.CreatedAt, c.ExpiresAt, c.RevokedAt = deadline(created), deadline(expires), deadline(revoked)
	return c, nil
}

// CreateKey implements keystore.Store.
func (s *Store) CreateKey(ctx context.Context, k keystore.NewKey) error {
	if err := k.Validate(); err != nil {
		return fmt.Errorf("creating key: %w", err)
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now()
	}
	_, err := s.writer.ExecContext(ctx, `INSERT INTO keygate_keys
		(id, integration_id, name, key_hash, created_at, expires_at, revoked_at, last_used_at,
		exchange_only, rotate_every_seconds)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.IntegrationID, k.Name, k.Hash[:], formatTime(k.CreatedAt),
		nullTime(k.ExpiresAt), nullTime(k.RevokedAt), nullTime(k.LastUsedAt),
		k.ExchangeOnly, nullSeconds(k.RotateEvery))
	if err != nil {
		return wrapErr("creating key "+k.ID, err)
	}
	return nil
}

// ListKeys implements keystore.Store.
func (s *Store) ListKeys(ctx context.Context, f keystore.KeyFilter) ([]keystore.Key, error) {
	query := `SELECT ` + keyColumns + ` FROM keygate_keys WHERE deleted_at IS NULL`
	var args []any
	if f.IntegrationID != "" {
		query += ` AND integration_id = ?`
		args = append(args, f.IntegrationID)
	}
	query += ` ORDER BY created_at, id`
	if f.Limit > 0 {
		query += fmt.Sprintf(` LIMIT %d OFFSET %d`, f.Limit, max(f.Offset, 0))
	}
	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrapErr("listing keys", err)
	}
	defer rows.Close()
	keys := []keystore.Key{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, wrapErr("listing keys", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("listing keys", err)
	}
	return keys, nil
}

// RevokeKey implements keystore.Store.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) (keystore.Key, error) {
	if at.IsZero() {
		at = time.Now()
	}
	k, err := scanKey(s.writer.QueryRowContext(ctx, `UPDATE keygate_keys SET revoked_at = ?
		WHERE id = ? AND revoked_at IS NULL AND deleted_at IS NULL RETURNING `+keyColumns, formatTime(at), id))
	if errors.Is(err, sql.ErrNoRows) {
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
	err := s.reader.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM keygate_keys WHERE id = ? AND deleted_at IS NULL)`, id).Scan(&exists)
	switch {
	case err != nil:
		return err
	case exists:
		return keystore.ErrAlreadyRevoked
	}
	return keystore.ErrNotFound
}

// scanKey reads the keyColumns of one row.
func scanKey(row interface{ Scan(...any) error }) (keystore.Key, error) {
	var k keystore.Key
	var created string
	var expires, revoked, lastUsed sql.NullString
	var rotateEvery sql.NullInt64
	if err := row.Scan(&k.ID, &k.Name, &k.IntegrationID, &created, &expires, &revoked, &lastUsed,
		&k.ExchangeOnly, &rotateEvery); err != nil {
		return keystore.Key{}, err
	}
	k.RotateEvery = seconds(rotateEvery)
	var errs [4]error
	k.CreatedAt, errs[0] = parseTime(created)
	k.ExpiresAt, errs[1] = timePtr(expires)
	k.RevokedAt, errs[2] = timePtr(revoked)
	k.LastUsedAt, errs[3] = timePtr(lastUsed)
	if err := errors.Join(errs[:]...); err != nil {
		return keystore.Key{}, fmt.Errorf("reading key %s: %w", k.ID, err)
	}
	return k, nil
}
