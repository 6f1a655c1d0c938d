package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keygate/keygate/keystore"
)

// CreateIntegration implements keystore.Store.
func (s *Store) CreateIntegration(ctx context.Context, in keystore.Integration) error {
	in, err := in.Normalize()
	if err != nil {
		return fmt.Errorf("creating integration: %w", err)
	}
	err = s.retry(false, func() error {
		_, err := s.pool.Exec(ctx,
			`INSERT INTO keygate_integrations (id, base_url, created_at, rotate_every_seconds, rotate_grace_seconds)
			VALUES ($1, $2, COALESCE($3, now()), $4, $5)`,
			in.ID, in.BaseURL, nullTime(in.CreatedAt), nullSeconds(in.Rotation.Every), nullSeconds(in.Rotation.Grace))
		return err
	})
	if err != nil {
		return wrapErr("creating integration "+in.ID, err)
	}
	return nil
}

// ListIntegrations implements keystore.Store.
func (s *Store) ListIntegrations(ctx context.Context) ([]keystore.Integration, error) {
	var list []keystore.Integration
	err := s.retry(true, func() error {
		rows, err := s.pool.Query(ctx, `SELECT `+integrationColumns+` FROM keygate_integrations ORDER BY id`)
		if err != nil {
			return err
		}
		list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (keystore.Integration, error) { return scanIntegration(row) })
		return err
	})
	if err != nil {
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
	err = s.retry(true, func() error {
		var err error
		in, err = scanIntegration(s.pool.QueryRow(ctx, `UPDATE keygate_integrations SET base_url = $2 WHERE id = $1
			RETURNING `+integrationColumns, in.ID, in.BaseURL))
		return err
	})
	if err != nil {
		return keystore.Integration{}, wrapErr("changing integration "+id, err)
	}
	return in, nil
}

// RemoveIntegration implements keystore.Store.
func (s *Store) RemoveIntegration(ctx context.Context, id string, force bool, now time.Time) (int, error) {
	var removed int
	err := s.retry(false, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// FOR UPDATE also holds off keys being created meanwhile: their
			// foreign key check locks the row too.
			if err := tx.QueryRow(ctx, `SELECT id FROM keygate_integrations WHERE id = $1 FOR UPDATE`, id).Scan(&id); err != nil {
				return err
			}
			if !force {
				var active bool
				if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM keygate_keys WHERE integration_id = $1
					AND revoked_at IS NULL AND deleted_at IS NULL AND (expires_at IS NULL OR expires_at > $2))`,
					id, now).Scan(&active); err != nil {
					return err
				}
				if active {
					return keystore.ErrIntegrationInUse
				}
			}
			tag, err := tx.Exec(ctx, `DELETE FROM keygate_keys WHERE integration_id = $1`, id)
			if err != nil {
				return err
			}
			removed = int(tag.RowsAffected())
			_, err = tx.Exec(ctx, `DELETE FROM keygate_integrations WHERE id = $1`, id)
			return err
		})
	})
	if err != nil {
		return 0, wrapErr("removing integration "+id, err)
	}
	return removed, nil
}
