package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keygate/keygate/keystore"
)

// CreateIntegration implements keystore.Store.
func (s *Store) CreateIntegration(ctx context.Context, in keystore.Integration) error {
	in, err := in.Normalize()
	if err != nil {
		return fmt.Errorf("creating integration: %w", err)
	}
	if in.CreatedAt.IsZero() {
		in.CreatedAt = time.Now()
	}
	_, err = s.writer.ExecContext(ctx,
		`INSERT INTO keygate_integrations (id, base_url, created_at, rotate_every_seconds, rotate_grace_seconds)
		VALUES (?, ?, ?, ?, ?)`,
		in.ID, in.BaseURL, formatTime(in.CreatedAt), nullSeconds(in.Rotation.Every), nullSeconds(in.Rotation.Grace))
	if err != nil {
		return wrapErr("creating integration "+in.ID, err)
	}
	return nil
}

// ListIntegrations implements keystore.Store.
func (s *Store) ListIntegrations(ctx context.Context) ([]keystore.Integration, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+integrationColumns+` FROM keygate_integrations ORDER BY id`)
	if err != nil {
		return nil, wrapErr("listing integrations", err)
	}
	defer rows.Close()
	list := []keystore.Integration{}
	for rows.Next() {
		in, err := scanIntegration(rows)
		if err != nil {
			return nil, wrapErr("listing integrations", err)
		}
		list = append(list, in)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("listing integrations", err)
	}
	return list, nil
}

// SetIntegrationURL implements keystore.Store.
func (s *Store) SetIntegrationURL(ctx context.Context, id, baseURL string) (keystore.Integration, error) {
	in, err := keystore.Integration{ID: id, BaseURL: baseURL}.Normalize()
	if err != nil {
		return keystore.Integration{}, fmt.Errorf("changing integration %s: %w", id, err)
	}
	in, err = scanIntegration(s.writer.QueryRowContext(ctx, `UPDATE keygate_integrations SET base_url = ? WHERE id = ?
		RETURNING `+integrationColumns, in.BaseURL, in.ID))
	if err != nil {
		return keystore.Integration{}, wrapErr("changing integration "+id, err)
	}
	return in, nil
}

// RemoveIntegration implements keystore.Store.
func (s *Store) RemoveIntegration(ctx context.Context, id string, force bool, now time.Time) (int, error) {
	var removed int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT id FROM keygate_integrations WHERE id = ?`, id).Scan(&id); err != nil {
			return err
		}
		if !force {
			var active bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM keygate_keys WHERE integration_id = ?
				AND revoked_at IS NULL AND deleted_at IS NULL
				AND (expires_at IS NULL OR julianday(expires_at) > julianday(?)))`,
				id, formatTime(now)).Scan(&active); err != nil {
				return err
			}
			if active {
				return keystore.ErrIntegrationInUse
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM keygate_keys WHERE integration_id = ?`, id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		removed = int(n)
		_, err = tx.ExecContext(ctx, `DELETE FROM keygate_integrations WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return 0, wrapErr("removing integration "+id, err)
	}
	return removed, nil
}
