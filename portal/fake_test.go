package portal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/keygate/keygate/keystore"
)

// fieldErr is an error about one form field, as the real operations
// return them.
type fieldErr struct {
	status     int
	field, msg string
}

func (e *fieldErr) Error() string { return e.msg }

// fakeOps keeps integrations and keys in memory and records the actors.
type fakeOps struct {
	mu     sync.Mutex
	now    time.Time
	ins    []keystore.Integration
	keys   []keystore.Key
	audit  []keystore.AuditEntry
	usage  map[string][]keystore.UsageCount
	serial int
	// confirmation is what the changes that end a key report.
	confirmation *Confirmation
	fleet        keystore.Fleet
}

func newFakeOps(now time.Time) *fakeOps {
	return &fakeOps{now: now, usage: map[string][]keystore.UsageCount{},
		confirmation: &Confirmation{Live: 2, Confirmed: 2, Took: 3 * time.Millisecond}}
}

func (f *fakeOps) log(actor, action, key, in string) {
	f.audit = append(f.audit, keystore.AuditEntry{ID: int64(len(f.audit) + 1), At: f.now, Actor: actor, Action: action, KeyID: key, IntegrationID: in})
}

func (f *fakeOps) Integrations(context.Context) ([]keystore.Integration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ins), nil
}

func (f *fakeOps) AddIntegration(_ context.Context, actor, id, baseURL string) (keystore.Integration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == "" {
		return keystore.Integration{}, &fieldErr{400, "id", "missing integration id"}
	}
	if _, err := keystore.ParseBaseURL(baseURL); err != nil {
		return keystore.Integration{}, &fieldErr{400, "base_url", err.Error()}
	}
	in := keystore.Integration{ID: id, BaseURL: baseURL, CreatedAt: f.now}
	f.ins = append(f.ins, in)
	f.log(actor, "integration added", "", id)
	return in, nil
}

func (f *fakeOps) SetIntegrationURL(_ context.Context, actor, id, baseURL string) (keystore.Integration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := keystore.ParseBaseURL(baseURL); err != nil {
		return keystore.Integration{}, &fieldErr{400, "base_url", err.Error()}
	}
	for i := range f.ins {
		if f.ins[i].ID == id {
			f.ins[i].BaseURL = baseURL
			f.log(actor, "integration base url changed", "", id)
			return f.ins[i], nil
		}
	}
	return keystore.Integration{}, &fieldErr{404, "", "unknown integration"}
}

func (f *fakeOps) RemoveIntegration(_ context.Context, actor, id string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k.IntegrationID == id && k.Status(f.now) == "active" {
			return 0, &fieldErr{409, "", fmt.Sprintf("integration %q still has active keys", id)}
		}
	}
	f.ins = slices.DeleteFunc(f.ins, func(in keystore.Integration) bool { return in.ID == id })
	f.log(actor, "integration removed", "", id)
	return 0, nil
}

func (f *fakeOps) Keys(_ context.Context, integration string, limit, offset int) ([]keystore.Key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []keystore.Key
	for _, k := range f.keys {
		if k.IntegrationID == integration {
			out = append(out, k)
		}
	}
	out = out[min(offset, len(out)):]
	return out[:min(limit, len(out))], nil
}

func (f *fakeOps) Key(_ context.Context, id string) (keystore.Key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k.ID == id {
			return k, nil
		}
	}
	return keystore.Key{}, &fieldErr{404, "", "unknown key id " + id}
}

func (f *fakeOps) CreateKey(_ context.Context, actor string, req KeyRequest) (NewKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.Name == "" {
		return NewKey{}, &fieldErr{400, "name", "missing key name"}
	}
	var every time.Duration
	if req.RotateEvery != "" {
		var err error
		if every, err = keystore.ParseLifetime(req.RotateEvery, false); err != nil {
			return NewKey{}, &fieldErr{400, "rotate_every", "invalid rotate_every " + err.Error()}
		}
	}
	secret, _, err := keystore.GenerateKey(nil, keystore.DefaultPrefix)
	if err != nil {
		return NewKey{}, err
	}
	f.serial++
	k := keystore.Key{ID: fmt.Sprintf("kid_%020d", f.serial), Name: req.Name, IntegrationID: req.Integration, CreatedAt: f.now,
		ExchangeOnly: req.ExchangeOnly, RotateEvery: every}
	f.keys = append(f.keys, k)
	f.log(actor, "key created", k.ID, req.Integration)
	return NewKey{Key: k, Secret: secret}, nil
}

func (f *fakeOps) RotateKey(ctx context.Context, actor, id, grace string) (NewKey, Change, error) {
	if grace == "" {
		return NewKey{}, Change{}, &fieldErr{400, "grace", "missing grace"}
	}
	old, err := f.Key(ctx, id)
	if err != nil {
		return NewKey{}, Change{}, err
	}
	next, err := f.CreateKey(ctx, actor, KeyRequest{Integration: old.IntegrationID, Name: old.Name, ExchangeOnly: old.ExchangeOnly})
	ch := Change{Key: old}
	if grace == "0" {
		ch.Confirmed = f.confirmation
	}
	return next, ch, err
}

func (f *fakeOps) change(actor, id, action string, apply func(k *keystore.Key)) (Change, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.keys {
		if f.keys[i].ID == id {
			apply(&f.keys[i])
			f.log(actor, action, id, f.keys[i].IntegrationID)
			return Change{Key: f.keys[i]}, nil
		}
	}
	return Change{}, &fieldErr{404, "", "unknown key id " + id}
}

func (f *fakeOps) RevokeKey(_ context.Context, actor, id string) (Change, error) {
	ch, err := f.change(actor, id, "key revoked", func(k *keystore.Key) { at := f.now; k.RevokedAt = &at })
	ch.Confirmed = f.confirmation
	return ch, err
}

func (f *fakeOps) DeleteKey(_ context.Context, actor, id string) (Change, error) {
	ch, err := f.change(actor, id, "key deleted", func(*keystore.Key) {})
	ch.Confirmed = f.confirmation
	if err == nil {
		f.mu.Lock()
		f.keys = slices.DeleteFunc(f.keys, func(k keystore.Key) bool { return k.ID == id })
		f.mu.Unlock()
	}
	return ch, err
}

func (f *fakeOps) Gateways(context.Context) (keystore.Fleet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fleet, nil
}

func (f *fakeOps) Usage(_ context.Context, id string, since time.Time) ([]keystore.UsageCount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.usage[id], nil
}

func (f *fakeOps) Audit(_ context.Context, filter keystore.AuditFilter) ([]keystore.AuditEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []keystore.AuditEntry
	for _, e := range slices.Backward(f.audit) {
		if (filter.KeyID == "" || e.KeyID == filter.KeyID) && (filter.Actor == "" || e.Actor == filter.Actor) &&
			(filter.IntegrationID == "" || e.IntegrationID == filter.IntegrationID) && (filter.Before == 0 || e.ID < filter.Before) {
			out = append(out, e)
		}
	}
	return out[:min(len(out), filter.EffectiveLimit())], nil
}

func (f *fakeOps) Explain(err error) Problem {
	var fe *fieldErr
	if errors.As(err, &fe) {
		return Problem{Status: fe.status, Field: fe.field, Message: fe.msg}
	}
	return Problem{Status: 500, Message: "internal error"}
}
