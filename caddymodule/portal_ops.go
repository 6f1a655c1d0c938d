package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/manage"
	"github.com/keygate/keygate/portal"
)

// portalTimeout bounds the store work of one portal page.
const portalTimeout = 30 * time.Second

// portalOps are the portal's operations: manage's, on the app's store,
// each change audited in the name of the portal's user.
type portalOps struct {
	runtime *gateway.Runtime
	audit   *zap.Logger
}

// run runs op with a manager acting for actor.
func (o *portalOps) run(ctx context.Context, actor string, op func(ctx context.Context, m *manage.Manager) error) error {
	ctx, cancel := context.WithTimeout(ctx, portalTimeout)
	defer cancel()
	return o.runtime.WithStore(func(s keystore.Store, drop func(string)) error {
		return op(ctx, &manage.Manager{Store: s, Now: o.runtime.Now, Bin: "keygate", Drop: drop,
			Audit: &manage.Audit{Logger: o.audit, Actor: actor, Store: s, Now: o.runtime.Now}})
	})
}

func (o *portalOps) Integrations(ctx context.Context) (ins []keystore.Integration, err error) {
	err = o.run(ctx, "", func(ctx context.Context, m *manage.Manager) error {
		ins, err = m.ListIntegrations(ctx)
		return err
	})
	return ins, err
}

func (o *portalOps) AddIntegration(ctx context.Context, actor, id, baseURL string) (in keystore.Integration, err error) {
	err = o.run(ctx, actor, func(ctx context.Context, m *manage.Manager) error {
		in, err = m.AddIntegration(ctx, id, baseURL, "", "")
		return err
	})
	return in, err
}

func (o *portalOps) SetIntegrationURL(ctx context.Context, actor, id, baseURL string) (in keystore.Integration, err error) {
	err = o.run(ctx, actor, func(ctx context.Context, m *manage.Manager) error {
		in, err = m.SetIntegrationURL(ctx, id, baseURL)
		return err
	})
	return in, err
}

// RemoveIntegration removes an integration without force: the guard
// against active keys holds.
func (o *portalOps) RemoveIntegration(ctx context.Context, actor, id string) (n int, err error) {
	err = o.run(ctx, actor, func(ctx context.Context, m *manage.Manager) error {
		n, err = m.RemoveIntegration(ctx, id, false)
		return err
	})
	return n, err
}

func (o *portalOps) Keys(ctx context.Context, integration string, limit, offset int) (keys []keystore.Key, err error) {
	err = o.run(ctx, "", func(ctx context.Context, m *manage.Manager) error {
		keys, err = m.ListKeysPage(ctx, integration, limit, offset)
		return err
	})
	return keys, err
}

func (o *portalOps) Key(ctx context.Context, id string) (k keystore.Key, err error) {
	err = o.run(ctx, "", func(ctx context.Context, m *manage.Manager) error {
		k, err = m.ShowKey(ctx, id)
		return err
	})
	return k, err
}

func (o *portalOps) CreateKey(ctx context.Context, actor string, req portal.KeyRequest) (nk portal.NewKey, err error) {
	err = o.run(ctx, actor, func(ctx context.Context, m *manage.Manager) error {
		created, err := m.CreateKey(ctx, manage.KeyRequest{Integration: req.Integration, Name: req.Name,
			ExpiresIn: req.ExpiresIn, RotateEvery: req.RotateEvery, ExchangeOnly: req.ExchangeOnly})
		nk = portal.NewKey{Key: created.Key, Secret: created.Secret}
		return err
	})
	return nk, err
}

// RotateKey confirms a rotation with grace 0 with the fleet, as it ends
// the old key at once.
func (o *portalOps) RotateKey(ctx context.Context, actor, id, grace string) (nk portal.NewKey, old portal.Change, err error) {
	err = o.run(ctx, actor, func(ctx context.Context, m *manage.Manager) error {
		r, err := m.RotateKey(ctx, id, grace)
		nk, old.Key = portal.NewKey{Key: r.Created.Key, Secret: r.Created.Secret}, r.Old
		if err != nil || !r.EndsNow() {
			return err
		}
		old.Confirmed, err = portalConfirm(ctx, m, id)
		return err
	})
	return nk, old, err
}

func (o *portalOps) RevokeKey(ctx context.Context, actor, id string) (ch portal.Change, err error) {
	err = o.run(ctx, actor, func(ctx context.Context, m *manage.Manager) error {
		if ch.Key, err = m.RevokeKey(ctx, id); err != nil {
			return err
		}
		ch.Confirmed, err = portalConfirm(ctx, m, id)
		return err
	})
	return ch, err
}

func (o *portalOps) DeleteKey(ctx context.Context, actor, id string) (ch portal.Change, err error) {
	err = o.run(ctx, actor, func(ctx context.Context, m *manage.Manager) error {
		if ch.Key, err = m.DeleteKey(ctx, id); err != nil {
			return err
		}
		ch.Confirmed, err = portalConfirm(ctx, m, id)
		return err
	})
	return ch, err
}

// portalConfirm drops keyID from this instance's cache and waits, as
// the command line does (manage.DefaultWait), for every live gateway to
// apply the change that ended it; nil when the store keeps no fleet.
func portalConfirm(ctx context.Context, m *manage.Manager, keyID string) (*portal.Confirmation, error) {
	c, err := m.ConfirmChange(ctx, keyID, manage.DefaultWait)
	if errors.Is(err, keystore.ErrNoFleet) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pc := &portal.Confirmation{Live: c.Live, Confirmed: c.Confirmed, Took: c.Elapsed}
	for _, g := range c.Missing {
		pc.Missing = append(pc.Missing, g.ID+" ("+g.Hostname+")")
	}
	return pc, nil
}

// Gateways reads the fleet; a store that keeps none has no gateways.
func (o *portalOps) Gateways(ctx context.Context) (f keystore.Fleet, err error) {
	err = o.run(ctx, "", func(ctx context.Context, m *manage.Manager) error {
		f, err = m.Gateways(ctx)
		if errors.Is(err, keystore.ErrNoFleet) {
			return nil
		}
		return err
	})
	return f, err
}

func (o *portalOps) Usage(ctx context.Context, id string, since time.Time) (counts []keystore.UsageCount, err error) {
	err = o.run(ctx, "", func(ctx context.Context, m *manage.Manager) error {
		counts, err = m.KeyUsage(ctx, id, since)
		return err
	})
	return counts, err
}

func (o *portalOps) Audit(ctx context.Context, f keystore.AuditFilter) (entries []keystore.AuditEntry, err error) {
	err = o.run(ctx, "", func(ctx context.Context, m *manage.Manager) error {
		entries, err = m.ListAudit(ctx, f)
		return err
	})
	return entries, err
}

// fieldLabels are the portal's words for manage's fields.
var fieldLabels = map[string]string{
	"id": "id", "base_url": "base URL", "name": "key name", "expires_in": "expiry",
	"grace": "grace", "integration": "integration",
}

// Explain phrases an operation's error for a page, naming a field as its
// form's label does.
func (o *portalOps) Explain(err error) portal.Problem {
	if e, ok := manage.AsError(err); ok {
		label := fieldLabels[e.Field]
		if label == "" {
			label = e.Field
		}
		return portal.Problem{Status: kindStatus[e.Kind], Field: e.Field, Message: e.Message(label)}
	}
	if errors.Is(err, keystore.ErrStoreUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return portal.Problem{Status: http.StatusServiceUnavailable, Message: "The key store is unavailable right now: try again in a moment."}
	}
	return portal.Problem{Status: http.StatusInternalServerError, Message: "Something went wrong on the server; its log says what."}
}

var _ portal.Ops = (*portalOps)(nil)
