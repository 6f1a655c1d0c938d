package portal

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/keygate/keygate/keystore"
)

// auditPerPage is how many entries the audit page lists.
const auditPerPage = 50

type auditData struct {
	Filter  keystore.AuditFilter
	Entries []keystore.AuditEntry
	// Next is the query of the next (older) page; empty: none.
	Next template.URL
}

func (p *Portal) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := keystore.AuditFilter{KeyID: strings.TrimSpace(q.Get("key")), IntegrationID: strings.TrimSpace(q.Get("integration")),
		Actor: strings.TrimSpace(q.Get("actor")), Limit: auditPerPage + 1}
	f.Before, _ = strconv.ParseInt(q.Get("before"), 10, 64)
	entries, err := p.ops.Audit(r.Context(), f)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := auditData{Filter: f, Entries: entries}
	if len(entries) > auditPerPage {
		d.Entries = entries[:auditPerPage]
		next := url.Values{"before": {strconv.FormatInt(d.Entries[auditPerPage-1].ID, 10)}}
		for k, v := range map[string]string{"key": f.KeyID, "integration": f.IntegrationID, "actor": f.Actor} {
			if v != "" {
				next.Set(k, v)
			}
		}
		d.Next = template.URL(next.Encode()) // encoded query values only
	}
	p.render(w, r, http.StatusOK, "audit.html", "Audit trail", "audit", d)
}
