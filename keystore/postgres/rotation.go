package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keygate/keygate/keystore"
)

// integrationColumns are the columns scanIntegration reads, in order.
const integrationColumns = `id, base_url, created_at, rotate_every_seconds, rotate_grace_seconds`

// scanIntegration reads the integrationColumns of one row.
func scanIntegration(row pgx.Row) (keystore.Integration, error) {
	var in keystore.Integration
	var every, grace *int64
	if err := row.Scan(&in.ID, &in.BaseURL, &in.CreatedAt, &every, &grace); err != nil {
		return keystore.Integration{}, err
	}
	in.CreatedAt = in.CreatedAt.UTC()
	in.Rotation = keystore.Rotation{Every: seconds(every), Grace: seconds(grace)}
	return in, nil
}

// GetIntegration returns the integration with this id, or fails with
// keystore.ErrNotFound.
func (s *Store) GetIntegration(ctx context.Context, id string) (keystore.Integration, error) {
	var in keystore.Integration
	err := s.retry(true, func() error {
		var err error
		in, err = scanIntegration(s.pool.QueryRow(ctx, `SELECT `+integrationColumns+` FROM keygate_integrations WHERE id = $1`, id))
		return err
	})
	if err != nil {
		return keystore.Integration{}, wrapErr("reading integration "+id, err)
	}
	return in, nil
}

// SetIntegrationRotation changes the integration's default rotation
// period and grace, and returns it. It fails with keystore.ErrNotFound for
// an unknown integration.
func (s *Store) SetIntegrationRotation(ctx context.Context, id string, r keystore.Rotation) (keystore.Integration, error) {
	if err := r.Validate(); err != nil {
		return keystore.Integration{}, fmt.Errorf("changing integration %s: %w", id, err)
	}
	var in keystore.Integration
	err := s.retry(true, func() error {
		var err error
		in, err = scanIntegration(s.pool.QueryRow(ctx, `UPDATE keygate_integrations
			SET rotate_every_seconds = $2, rotate_grace_seconds = $3 WHERE id = $1
			RETURNING `+integrationColumns, id, nullSeconds(r.Every), nullSeconds(r.Grace)))
		return err
	})
	if err != nil {
		return keystore.Integration{}, wrapErr("changing integration "+id, err)
	}
	return in, nil
}

// nullSeconds is d in whole seconds as a query argument: NULL for zero.
func nullSeconds(d time.Duration) *int64 {
	if d <= 0 {
		return nil
	}
	s := int64(d / time.Second)
	return &s
}

// seconds reads a nullable seconds column: zero for NULL.
func seconds(s *int64) time.Duration {
	if s == nil {
		return 0
	}
	return time.Duration(*s) * time.Second
}
