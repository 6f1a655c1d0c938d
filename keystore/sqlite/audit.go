package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/keygate/keygate/keystore"
)

// AppendAudit implements keystore.Store.
func (s *Store) AppendAudit(ctx context.Context, e keystore.AuditEntry) (int64, error) {
	at := e.At
	if at.IsZero() {
		at = time.Now()
	}
	var details any
	if len(e.Details) > 0 {
		details = string(e.Details)
	}
	var id int64
	err := s.writer.QueryRowContext(ctx, `INSERT INTO keygate_audit (at, actor, action, key_id, integration_id, details)
		VALUES (?, ?, ?, NULLIF(?, ''), NULLIF(?, ''), ?) RETURNING id`,
		formatTime(at), e.Actor, e.Action, e.KeyID, e.IntegrationID, details).Scan(&id)
	if err != nil {
		return 0, wrapErr("storing audit entry "+e.Action, err)
	}
	return id, nil
}

// ListAudit implements keystore.Store.
func (s *Store) ListAudit(ctx context.Context, f keystore.AuditFilter) ([]keystore.AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	if f.KeyID != "" {
		add("key_id = ?", f.KeyID)
	}
	if f.IntegrationID != "" {
		add("integration_id = ?", f.IntegrationID)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.Before != 0 {
		add("id < ?", f.Before)
	}
	q := `SELECT id, at, actor, action, COALESCE(key_id, ''), COALESCE(integration_id, ''), details FROM keygate_audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", f.EffectiveLimit())
	rows, err := s.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrapErr("listing audit entries", err)
	}
	defer rows.Close()
	var out []keystore.AuditEntry
	for rows.Next() {
		var e keystore.AuditEntry
		var at string
		var details sql.NullString
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.KeyID, &e.IntegrationID, &details); err != nil {
			return nil, wrapErr("listing audit entries", err)
		}
		if e.At, err = parseTime(at); err != nil {
			return nil, wrapErr("listing audit entries", err)
		}
		if details.Valid {
			e.Details = []byte(details.String)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapErr("listing audit entries", err)
	}
	return out, nil
}
