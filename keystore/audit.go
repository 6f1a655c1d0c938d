package keystore

import (
	"encoding/json"
	"time"
)

// AuditEntry is one management action as the key store keeps it (table
// keygate_audit, which keygate only ever appends to). It never holds a
// key, only ids.
type AuditEntry struct {
	// ID orders entries; the store assigns it.
	ID            int64     `json:"id"`
	At            time.Time `json:"at"`
	Actor         string    `json:"actor"`
	Action        string    `json:"action"`
	KeyID         string    `json:"key_id,omitempty"`
	IntegrationID string    `json:"integration,omitempty"`
	// Details is a JSON object with what else the action is about (the
	// key's name, a base URL, a grace); nil when there is nothing.
	Details json.RawMessage `json:"details,omitempty"`
}

// AuditFilter narrows ListAudit; zero values match everything.
type AuditFilter struct {
	KeyID, IntegrationID, Actor string
	// Before, when not 0, keeps entries with a smaller ID: the cursor of
	// the next page, the ID of the last entry of this one.
	Before int64
	// Limit bounds the entries returned; 0 means DefaultAuditLimit.
	Limit int
}

// DefaultAuditLimit is how many entries ListAudit returns when the filter
// does not say.
const DefaultAuditLimit = 100

// MaxAuditLimit bounds the Limit of an AuditFilter.
const MaxAuditLimit = 1000

// EffectiveLimit is the number of entries ListAudit returns at most for f.
func (f AuditFilter) EffectiveLimit() int {
	switch {
	case f.Limit <= 0:
		return DefaultAuditLimit
	case f.Limit > MaxAuditLimit:
		return MaxAuditLimit
	}
	return f.Limit
}
