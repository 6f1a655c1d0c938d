package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keygate/keygate/keystore"
)

var _ keystore.SigningKeyStore = (*Store)(nil)

// SigningKeys returns the token signing keys whose verify_until is after
// now, by generation.
func (s *Store) SigningKeys(ctx context.Context, now time.Time) ([]keystore.SigningKey, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT kid, generation, public_key, private_key, created_at, sign_until, verify_until
		FROM keygate_signing_keys WHERE julianday(verify_until) > julianday(?) ORDER BY generation`, formatTime(now))
	if err != nil {
		return nil, wrapErr("loading signing keys", err)
	}
	defer rows.Close()
	var keys []keystore.SigningKey
	for rows.Next() {
		var k keystore.SigningKey
		var created, signUntil, verifyUntil string
		if err := rows.Scan(&k.KID, &k.Generation, &k.PublicKey, &k.PrivateKey, &created, &signUntil, &verifyUntil); err != nil {
			return nil, wrapErr("loading signing keys", err)
		}
		for _, f := range []struct {
			s string
			t *time.Time
		}{{created, &k.CreatedAt}, {signUntil, &k.SignUntil}, {verifyUntil, &k.VerifyUntil}} {
			if *f.t, err = parseTime(f.s); err != nil {
				return nil, fmt.Errorf("loading signing key %s: %w", k.KID, err)
			}
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("loading signing keys", err)
	}
	return keys, nil
}

// AddSigningKey stores k, or fails with keystore.ErrSigningKeyTaken when
// another gateway stored a key of its generation first.
func (s *Store) AddSigningKey(ctx context.Context, k keystore.SigningKey) error {
	_, err := s.writer.ExecContext(ctx, `INSERT INTO keygate_signing_keys
		(kid, generation, public_key, private_key, created_at, sign_until, verify_until)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.KID, k.Generation, k.PublicKey, k.PrivateKey, formatTime(k.CreatedAt), formatTime(k.SignUntil), formatTime(k.VerifyUntil))
	if code, msg := sqliteCode(err); code == sqlite3.SQLITE_CONSTRAINT_UNIQUE && strings.Contains(msg, "keygate_signing_keys.generation") {
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
	res, err := s.writer.ExecContext(ctx, `DELETE FROM keygate_signing_keys WHERE julianday(verify_until) <= julianday(?)`, formatTime(now))
	if err != nil {
		return 0, wrapErr("pruning signing keys", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrapErr("pruning signing keys", err)
	}
	return int(n), nil
}
