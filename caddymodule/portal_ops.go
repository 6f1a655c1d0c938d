package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/portal"
)

// portalOps are the portal's operations: the management operations
// (manager) on the running app's store, each change audited in the name
// of the portal's user.
type portalOps struct {
	app   *App
	audit *zap.Logger
}

// run runs op with a manager acting for actor.
func (o *portalOps) run(ctx context.Context, actor string, op func(ctx context.Context, m *manager) error) error {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	return o.app.shared.withStore(func(s keystore.Store) error {
		return op(ctx, &manager{store: s, now: o.app.shared.clock, bin: "keygate",
			audit: &auditLog{logger: o.audit, actor: actor, store: s, now: o.app.shared.clock}})
	})
}

func (o *portalOps) Integrations(ctx context.Context) (ins []keystore.Integration, err error) {
	err = o.run(ctx, "", func(ctx context.Context, m *manager) error {
		ins, err = m.listIntegrations(ctx)
		return err
	})
	return ins, err
}

func (o *portalOps) AddIntegration(ctx context.Context, actor, id, baseURL string) (in keystore.Integration, err error) {
	err = o.run(ctx, actor, func(ctx context.Context, m *manager) error {
		in, err = m.addIntegration(ctx, id, baseURL)
		return err
	})
	return in, err
}

func (o *portalOps) SetIntegrationURL(ctx context.Context, actor, id, baseURL string) (in keystore.Integration, err error) {
	err = o.run(ctx, actor, func(ctx context.Context, m *manager) error {
		in, err = m.setIntegrationURL(ctx, id, baseURL)
		return err
	})
	return in, err
}

// RemoveIntegration removes an integration without force: the guard
// against active keys holds.
func (o *portalOps) RemoveIntegration(ctx context.Context, actor, id string) (n int, err error) {
	err = o.run(ctx, actor, func(ctx context.Context, m *manager) error {
		n, err = m.removeIntegration(ctx, id, false)
		return err
	})
	return n, err
}

// Keys reads one page of keys from the store: the page, not every key.
func (o *portalOps) Keys(ctx context.Context, integration string, limit, offset int) (keys []keystore.Key, err error) {
	err = o.run(ctx, "", func(ctx context.Context, m *manager) error {
		keys, err = m.store.ListKeys(ctx, keystore.KeyFilter{IntegrationID: integration, Limit: limit, Offset: offset})
		return err
	})
	return keys, err
}

func (o *portalOps) Key(ctx context.Context, id string) (k keystore.Key, err error) {
	err = o.run(ctx, "", func(ctx context.Context, m *manager) error {
		k, err = m.showKey(ctx, id)
		return err
	})
	return k, err
}

func (o *portalOps) CreateKey(ctx context.Context, actor, integration, name, expiresIn string) (nk portal.NewKey, err error) {
	err = o.run(ctx, actor, func(ctx context.Context, m *manager) error {
		created, err := m.createKey(ctx, keyRequest{Integration: integration, Name: name, ExpiresIn: expiresIn})
		nk = portal.NewKey{Key: created.Key, Secret: created.Secret}
		return err
	})
	return nk, err
}

func (o *portalOps) RotateKey(ctx context.Context, actor, id, grace string) (nk portal.NewKey, old keystore.Key, err error) {
	err = o.run(ctx, actor, func(ctx context.Context, m *manager) error {
		r, err := m.rotateKey(ctx, id, grace)
		nk, old = portal.NewKey{Key: r.created.Key, Secret: r.created.Secret}, r.old
		return err
	})
	return nk, old, err
}

func (o *portalOps) RevokeKey(ctx context.Context, actor, id string) (ch portal.Change, err error) {
	err = o.run(ctx, actor, func(ctx context.Context, m *manager) error {
		ch.Key, err = m.revokeKey(ctx, id)
		return err
	})
	return ch, err
}

func (o *portalOps) DeleteKey(ctx context.Context, actor, id string) (ch portal.Change, err error) {
	err = o.run(ctx, actor, func(ctx context.Context, m *manager) error {
		ch.Key, err = m.deleteKey(ctx, id)
		return err
	})
	return ch, err
}

func (o *portalOps) Usage(ctx context.Context, id string, since time.Time) (counts []keystore.UsageCount, err error) {
	err = o.run(ctx, "", func(ctx context.Context, m *manager) error {
		counts, err = m.store.KeyUsage(ctx, id, since)
		return err
	})
	return counts, err
}

func (o *portalOps) Audit(ctx context.Context, f keystore.AuditFilter) (entries []keystore.AuditEntry, err error) {
	err = o.run(ctx, "", func(ctx context.Context, m *manager) error {
		entries, err = m.store.ListAudit(ctx, f)
		return err
	})
	return entries, err
}

// Explain phrases an operation's error for a page.
func (o *portalOps) Explain(err error) portal.Problem {
	var oe *opError
	switch {
	case errors.As(err, &oe):
		return portal.Problem{Status: oe.status, Message: oe.msg}
	case unavailable(err):
		return portal.Problem{Status: http.StatusServiceUnavailable, Message: "The key store is unavailable right now: try again in a moment."}
	}
	return portal.Problem{Status: http.StatusInternalServerError, Message: "Something went wrong on the server; its log says what."}
}

var _ portal.Ops = (*portalOps)(nil)
