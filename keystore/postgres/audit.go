package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate/keystore"
)

// AppendAudit implements keystore.Store.
func (s *Store) AppendAudit(ctx context.Context, e keystore.AuditEntry) (int64, error) {
	var id int64
	err := s.retry(false, func() error {
		return s.pool.QueryRow(ctx, `INSERT INTO keygate_audit (at, actor, action, key_id, integration_id, details)
			VALUES (COALESCE($1, now()), $2, $3, NULLIF($4, ''), NULLIF($5, ''), $6) RETURNING id`,
			nullTime(e.At), e.Actor, e.Action, e.KeyID, e.IntegrationID, nullJSON(e.Details)).Scan(&id)
	})
	if err != nil {
		return 0, wrapErr("storing audit entry "+e.Action, err)
	}
	return id, nil
}

// ListAudit implements keystore.Store.
func (s *Store) ListAudit(ctx context.Context, f keystore.AuditFilter) ([]keystore.AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.KeyID != "" {
		add("key_id = $%d", f.KeyID)
	}
	if f.IntegrationID != "" {
		add("integration_id = $%d", f.IntegrationID)
	}
	if f.Actor != "" {
		add("actor = $%d", f.Actor)
	}
	if f.Before != 0 {
		add("id < $%d", f.Before)
	}
	q := `SELECT id, at, actor, action, COALESCE(key_id, ''), COALESCE(integration_id, ''), details FROM keygate_audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", f.EffectiveLimit())
	var out []keystore.AuditEntry
	err := s.retry(true, func() error {
		rows, err := s.pool.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (keystore.AuditEntry, error) {
			var e keystore.AuditEntry
			var details []byte
			err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.KeyID, &e.IntegrationID, &details)
			e.At, e.Details = e.At.UTC(), details
			return e, err
		})
		return err
	})
	if err != nil {
		return nil, wrapErr("listing audit entries", err)
	}
	return out, nil
}

// nullJSON is a JSON document as a query argument: NULL when empty.
func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}
