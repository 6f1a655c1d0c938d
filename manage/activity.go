package manage

import (
	"context"
	"fmt"
	"time"

	"github.com/keygate/keygate/keystore"
)

// MaxPage bounds the keys one page of ListKeysPage returns.
const MaxPage = 500

// ListKeysPage returns limit keys of integration, after skipping offset,
// in creation order: one page of a listing, read as such from the store
// so that a page costs the same for 10 keys or 10,000. An unknown
// integration is NotFound.
func (m *Manager) ListKeysPage(ctx context.Context, integration string, limit, offset int) ([]keystore.Key, error) {
	if err := CheckIntegrationID("integration", integration); err != nil {
		return nil, err
	}
	if limit < 1 || limit > MaxPage {
		return nil, invalidField("limit", fmt.Sprintf("want 1 to %d", MaxPage))
	}
	if offset < 0 {
		return nil, invalidField("offset", "want 0 or more")
	}
	if err := m.requireIntegration(ctx, integration); err != nil {
		return nil, err
	}
	keys, err := m.Store.ListKeys(ctx, keystore.KeyFilter{IntegrationID: integration, Limit: limit, Offset: offset})
	if err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	return keys, nil
}

// KeyUsage returns the request counts of key id from since on, in the
// store's usage buckets, oldest first.
func (m *Manager) KeyUsage(ctx context.Context, id string, since time.Time) ([]keystore.UsageCount, error) {
	if err := CheckKeyID(id, m.Bin); err != nil {
		return nil, err
	}
	counts, err := m.Store.KeyUsage(ctx, id, since)
	if err != nil {
		return nil, fmt.Errorf("reading the usage of key %s: %w", id, err)
	}
	return counts, nil
}

// ListAudit returns the stored audit entries that match f, newest first.
// f.Limit must be 0 (the default) to keystore.MaxAuditLimit.
func (m *Manager) ListAudit(ctx context.Context, f keystore.AuditFilter) ([]keystore.AuditEntry, error) {
	if f.Limit < 0 || f.Limit > keystore.MaxAuditLimit {
		return nil, invalidField("limit", fmt.Sprintf("want 1 to %d", keystore.MaxAuditLimit))
	}
	if f.Before < 0 {
		return nil, invalidField("before", "want the id of an entry")
	}
	entries, err := m.Store.ListAudit(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("listing audit entries: %w", err)
	}
	if entries == nil {
		entries = []keystore.AuditEntry{}
	}
	return entries, nil
}
