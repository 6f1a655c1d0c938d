package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/keygate/keygate/keystore"
)

const signingKeysGenerationKey = "keygate_signing_keys_generation_key"

var _ keystore.SigningKeyStore = (*Store)(nil)

// SigningKeys returns the token signing keys whose verify_until is after
// now, by generation.
func (s *Store) SigningKeys(ctx context.Context, now time.Time) ([]keystore.SigningKey, error) {
	var keys []keystore.SigningKey
	err := s.retry(true, func() error {
		rows, err := s.pool.Query(ctx, `SELECT kid, generation, public_key, private_key, created_at, sign_until, verify_until
			FROM keygate_signing_keys WHERE verify_until > $1 ORDER BY generation`, now)
		if err != nil {
			return err
		}
		keys, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (keystore.SigningKey, error) {
			var k keystore.SigningKey
			err := row.Scan(&k.KID, &k.Generation, &k.PublicKey, &k.PrivateKey, &k.CreatedAt, &k.SignUntil, &k.VerifyUntil)
			k.CreatedAt, k.SignUntil, k.VerifyUntil = k.CreatedAt.UTC(), k.SignUntil.UTC(), k.VerifyUntil.UTC()
			return k, err
		})
		return err
	})
	if err != nil {
		return nil, wrapErr("loading signing keys", err)
	}
	return keys, nil
}

// AddSigningKey stores k, or fails with keystore.ErrSigningKeyTaken when
// another gateway stored a key of its generation first.
func (s *Store) AddSigningKey(ctx context.Context, k keystore.SigningKey) error {
	err := s.retry(false, func() error {
		_, err := s.pool.Exec(ctx, `INSERT INTO keygate_signing_keys
			(kid, generation, public_key, private_key, created_at, sign_until, verify_until)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			k.KID, k.Generation, k.PublicKey, k.PrivateKey, k.CreatedAt, k.SignUntil, k.VerifyUntil)
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && pgErr.ConstraintName == signingKeysGenerationKey {
		return fmt.Errorf("storing signing key generation %d: %w", k.Generation, keystore.ErrSigningKeyTaken)
	}
	if err != nil {
		return wrapErr(fmt.Sprintf("storing signing key generation %d", k.Generation), err)
	}
	return nil
}

// PruneSigningKeys deletes the signing keys whose tokens have all expired
// by now.
func (s *Store) PruneSigningKeys(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.retry(true, func() error {
		tag, err := s.pool.Exec(ctx, `DELETE FROM keygate_signing_keys WHERE verify_until <= $1`, now)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, wrapErr("pruning signing keys", err)
	}
	return int(n), nil
}
