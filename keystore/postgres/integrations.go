package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/keygate/keygate/keystore"
)

// CreateIntegration stores in, with its base URL normalized by
// keystore.ParseBaseURL; a zero CreatedAt means now. It fails with
// keystore.ErrIntegrationExists when the id is taken.
func (s *Store) CreateIntegration(ctx context.Context, in keystore.Integration) error {
	if !keystore.ValidIntegrationID(in.ID) {
		return fmt.Errorf("creating integration: invalid id %q: want 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit", in.ID)
	}
	u, err := keystore.ParseBaseURL(in.BaseURL)
	if err != nil {
		return fmt.Errorf("creating integration %s: %w", in.ID, err)
	}
	err = s.retry(false, func() error {
		_, err := s.pool.Exec(ctx,
			`INSERT INTO keygate_integrations (id, base_url, created_at) VALUES ($1, $2, COALESCE($3, now()))`,
			in.ID, u.String(), nullTime(in.CreatedAt))
		return err
	})
	if err != nil {
		return wrapErr("creating integration "+in.ID, err)
	}
	return nil
}

// ListIntegrations returns every integration, ordered by id.
func (s *Store) ListIntegrations(ctx context.Context) ([]keystore.Integration, error) {
	var list []keystore.Integration
	err := s.retry(true, func() error {
		rows, err := s.pool.Query(ctx, `SELECT id, base_url, created_at FROM keygate_integrations ORDER BY id`)
		if err != nil {
			return err
		}
		list, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (keystore.Integration, error) {
			var in keystore.Integration
			err := row.Scan(&in.ID, &in.BaseURL, &in.CreatedAt)
			in.CreatedAt = in.CreatedAt.UTC()
			return in, err
		})
		return err
	})
	if err != nil {
		return nil, wrapErr("listing integrations", err)
	}
	return list, nil
}
