package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keygate/keygate/keystore"
)

// integrationColumns are the columns scanIntegration reads, in order.
const integrationColumns = `id, base_url, created_at, rotate_every_seconds, rotate_grace_seconds`

// scanIntegration reads the integrationColumns of one row.
func scanIntegration(row interface{ Scan(...any) error }) (keystore.Integration, error) {
	var in keystore.Integration
	var created string
	var every, grace sql.NullInt64
	if err := row.Scan(&in.ID, &in.BaseURL, &created, &every, &grace); err != nil {
		return keystore.Integration{}, err
	}
	var err error
	if in.CreatedAt, err = parseTime(created); err != nil {
		return keystore.Integration{}, fmt.Errorf("created_at of %s: %w", in.ID, err)
	}
	in.Rotation = keystore.Rotation{Every: seconds(every), Grace: seconds(grace)}
	return in, nil
}

// GetIntegration returns the integration with this id, or fails with
// keystore.ErrNotFound.
func (s *Store) GetIntegration(ctx context.Context, id string) (keystore.Integration, error) {
	in, err := scanIntegration(s.reader.QueryRowContext(ctx, `SELECT `+integrationColumns+` FROM keygate_integrations WHERE id = ?`, id))
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
	in, err := scanIntegration(s.writer.QueryRowContext(ctx, `UPDATE keygate_integrations
		SET rotate_every_seconds = ?, rotate_grace_seconds = ? WHERE id = ?
		RETURNING `+integrationColumns, nullSeconds(r.Every), nullSeconds(r.Grace), id))
	if err != nil {
		return keystore.Integration{}, wrapErr("changing integration "+id, err)
	}
	return in, nil
}

// nullSeconds is d in whole seconds as a query argument: NULL for zero.
func nullSeconds(d time.Duration) any {
	if d <= 0 {
		return nil
	}
	return int64(d / time.Second)
}

// seconds reads a nullable seconds column: zero for NULL.
func seconds(s sql.NullInt64) time.Duration {
	if !s.Valid {
		return 0
	}
	return time.Duration(s.Int64) * time.Second
}
