package caddymodule

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/manage"
)

// handleAudit serves GET /keygate/audit[?key=&integration=&actor=&before=&limit=]:
// the stored audit trail, newest first, as a JSON array of entries
// (id, at, actor, action, key_id, integration, details). The next page
// is ?before=<id of the last entry>.
func (a *AdminAPI) handleAudit(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, r, http.MethodGet)
	}
	q := r.URL.Query()
	f := keystore.AuditFilter{KeyID: q.Get("key"), IntegrationID: q.Get("integration"), Actor: q.Get("actor")}
	var err error
	if f.Before, err = queryInt(q.Get("before"), "before", 1, 1<<62); err != nil {
		return apiError(err)
	}
	limit, err := queryInt(q.Get("limit"), "limit", 1, keystore.MaxAuditLimit)
	if err != nil {
		return apiError(err)
	}
	f.Limit = int(limit)
	return a.manage(w, r, func(ctx context.Context, m *manage.Manager) (int, any, error) {
		entries, err := m.ListAudit(ctx, f)
		return http.StatusOK, entries, err
	})
}

// queryInt reads an optional integer query parameter in [lo, hi]; 0 when
// absent.
func queryInt(v, name string, lo, hi int64) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, &manage.Error{Kind: manage.Invalid, Field: name,
			Problem: fmt.Sprintf("%q: want a whole number from %d to %d", v, lo, hi)}
	}
	return n, nil
}
