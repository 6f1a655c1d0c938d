package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
)

// manager runs the management operations, one method each, for both the
// command line and the admin API: it checks the input, calls the store,
// turns the store's errors into opErrors, and writes the audit entry.
type manager struct {
	store keystore.Store
	// now is the clock; random feeds key generation (nil: crypto/rand).
	now    func() time.Time
	random io.Reader
	// audit receives one entry per change; actor says who asked.
	audit *auditLog
	// bin is the program's name, for the hints of the command line.
	bin string
}

// stamp is now as the store keeps it.
func (m *manager) stamp() time.Time { return m.now().UTC().Truncate(timePrecision) }

// addIntegration creates an integration.
func (m *manager) addIntegration(ctx context.Context, id, baseURL string) (keystore.Integration, error) {
	if err := checkIntegrationID(id); err != nil {
		return keystore.Integration{}, invalid(err.Error())
	}
	if baseURL == "" {
		return keystore.Integration{}, invalid("missing base URL")
	}
	u, err := keystore.ParseBaseURL(baseURL)
	if err != nil {
		return keystore.Integration{}, invalid(err.Error() + " (example: https://api.example.com/v1)")
	}
	in := keystore.Integration{ID: id, BaseURL: u.String(), CreatedAt: m.stamp()}
	if err := m.store.CreateIntegration(ctx, in); err != nil {
		if errors.Is(err, keystore.ErrIntegrationExists) {
			return keystore.Integration{}, conflict(fmt.Sprintf("integration %q already exists", id),
				fmt.Sprintf("pick another id (see '%s integrations list')", m.bin))
		}
		return keystore.Integration{}, fmt.Errorf("adding integration %q: %w", id, err)
	}
	m.audit.integration("integration added", in)
	return in, nil
}

// listIntegrations returns every integration.
func (m *manager) listIntegrations(ctx context.Context) ([]keystore.Integration, error) {
	ins, err := m.store.ListIntegrations(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing integrations: %w", err)
	}
	return ins, nil
}

// setIntegrationURL changes an integration's base URL.
func (m *manager) setIntegrationURL(ctx context.Context, id, baseURL string) (keystore.Integration, error) {
	if err := checkIntegrationID(id); err != nil {
		return keystore.Integration{}, invalid(err.Error())
	}
	if _, err := keystore.ParseBaseURL(baseURL); err != nil {
		return keystore.Integration{}, invalid(err.Error() + " (example: https://api.example.com/v1)")
	}
	in, err := m.store.SetIntegrationURL(ctx, id, baseURL)
	if err != nil {
		if errors.Is(err, keystore.ErrNotFound) {
			return keystore.Integration{}, m.unknownIntegration(id)
		}
		return keystore.Integration{}, fmt.Errorf("changing integration %q: %w", id, err)
	}
	m.audit.integration("integration base url changed", in)
	return in, nil
}

// removeIntegration removes an integration and its keys; without force,
// only when none of them is active.
func (m *manager) removeIntegration(ctx context.Context, id string, force bool) (int, error) {
	if err := checkIntegrationID(id); err != nil {
		return 0, invalid(err.Error())
	}
	n, err := m.store.RemoveIntegration(ctx, id, force, m.now())
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return 0, m.unknownIntegration(id)
	case errors.Is(err, keystore.ErrIntegrationInUse):
		return 0, conflict(fmt.Sprintf("integration %q still has active keys", id),
			fmt.Sprintf("revoke or delete them first (see '%s keys list --integration %s --active'), or remove it with --force, which deletes them", m.bin, id))
	case err != nil:
		return 0, fmt.Errorf("removing integration %q: %w", id, err)
	}
	m.audit.log("integration removed", zap.String("integration", id), zap.Int("keys_deleted", n), zap.Bool("force", force))
	return n, nil
}

// requireIntegration fails unless the integration exists, so that a typo
// in a filter is not mistaken for an integration without keys.
func (m *manager) requireIntegration(ctx context.Context, id string) error {
	ins, err := m.listIntegrations(ctx)
	if err != nil {
		return err
	}
	for _, in := range ins {
		if in.ID == id {
			return nil
		}
	}
	return m.unknownIntegration(id)
}

func (m *manager) unknownIntegration(id string) error {
	return notFound(fmt.Sprintf("unknown integration %q", id), fmt.Sprintf("see '%s integrations list'", m.bin))
}

// keyRequest is what creating a key takes; the admin API reads it as
// JSON.
type keyRequest struct {
	Integration string `json:"integration"`
	Name        string `json:"name"`
	// ExpiresIn is a lifetime as parseLifetime reads it; empty: never.
	ExpiresIn string `json:"expires_in"`
}

// createdKey is a key just made: its record, and the key itself, which is
// shown once and never stored.
type createdKey struct {
	keystore.NewKey
	Secret string
}

// checkKeyRequest checks req and returns the key's lifetime (0: none).
func (m *manager) checkKeyRequest(req keyRequest) (time.Duration, error) {
	if req.Integration == "" {
		return 0, invalid("missing integration")
	}
	if err := checkIntegrationID(req.Integration); err != nil {
		return 0, invalid(err.Error())
	}
	if err := checkKeyName(req.Name); err != nil {
		return 0, invalid(err.Error())
	}
	if req.ExpiresIn == "" {
		return 0, nil
	}
	d, err := parseExpiresIn(req.ExpiresIn)
	if err != nil {
		return 0, invalid(err.Error())
	}
	return d, nil
}

// createKey makes a key and stores it; the result holds the key, to be
// shown once.
func (m *manager) createKey(ctx context.Context, req keyRequest) (createdKey, error) {
	lifetime, err := m.checkKeyRequest(req)
	if err != nil {
		return createdKey{}, err
	}
	created, err := m.newKey(req.Integration, req.Name, lifetime)
	if err != nil {
		return createdKey{}, err
	}
	if err := m.store.CreateKey(ctx, created.NewKey); err != nil {
		if errors.Is(err, keystore.ErrUnknownIntegration) {
			return createdKey{}, notFound(fmt.Sprintf("unknown integration %q", req.Integration),
				fmt.Sprintf("add it first with '%s integrations add %s --base-url URL'", m.bin, req.Integration))
		}
		return createdKey{}, fmt.Errorf("creating key: %w", err)
	}
	m.audit.key("key created", created.Key)
	return created, nil
}

// newKey makes a key and its record; lifetime 0 means no expiry.
func (m *manager) newKey(integration, name string, lifetime time.Duration) (createdKey, error) {
	secret, hash, err := keystore.GenerateKey(m.random, keystore.DefaultPrefix)
	if err != nil {
		return createdKey{}, fmt.Errorf("generating key: %w", err)
	}
	id, err := keystore.NewKeyID(m.random)
	if err != nil {
		return createdKey{}, fmt.Errorf("generating key id: %w", err)
	}
	now := m.stamp()
	k := keystore.Key{ID: id, Name: name, IntegrationID: integration, CreatedAt: now}
	if lifetime > 0 {
		exp := now.Add(lifetime)
		k.ExpiresAt = &exp
	}
	return createdKey{NewKey: keystore.NewKey{Key: k, Hash: hash}, Secret: secret}, nil
}

// keyQuery selects keys to list; the admin API reads it from the query
// string. Status flags combine with "or"; none means every key.
type keyQuery struct {
	Integration              string
	Active, Revoked, Expired bool
}

// listKeys returns the keys that match q, deleted ones left out.
func (m *manager) listKeys(ctx context.Context, q keyQuery) ([]keystore.Key, error) {
	if q.Integration != "" {
		if err := checkIntegrationID(q.Integration); err != nil {
			return nil, invalid(err.Error())
		}
		if err := m.requireIntegration(ctx, q.Integration); err != nil {
			return nil, err
		}
	}
	keys, err := m.store.ListKeys(ctx, keystore.KeyFilter{IntegrationID: q.Integration})
	if err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	if !q.Active && !q.Revoked && !q.Expired {
		return keys, nil
	}
	want := map[string]bool{"active": q.Active, "revoked": q.Revoked, "expired": q.Expired}
	now := m.now()
	out := keys[:0]
	for _, k := range keys {
		if want[k.Status(now)] {
			out = append(out, k)
		}
	}
	return out, nil
}

// showKey returns a key's record.
func (m *manager) showKey(ctx context.Context, id string) (keystore.Key, error) {
	if err := m.checkKeyID(id); err != nil {
		return keystore.Key{}, err
	}
	k, err := m.store.GetKey(ctx, id)
	if err != nil {
		return keystore.Key{}, m.keyError("reading", id, err)
	}
	return k, nil
}

// revokeKey revokes a key now.
func (m *manager) revokeKey(ctx context.Context, id string) (keystore.Key, error) {
	return m.changeKey(ctx, id, "revoking", "key revoked", m.store.RevokeKey)
}

// deleteKey soft-deletes a key now.
func (m *manager) deleteKey(ctx context.Context, id string) (keystore.Key, error) {
	return m.changeKey(ctx, id, "deleting", "key deleted", m.store.DeleteKey)
}

// changeKey runs a store change of key id stamped now, and audits it as
// action.
func (m *manager) changeKey(ctx context.Context, id, doing, action string,
	change func(ctx context.Context, id string, at time.Time) (keystore.Key, error)) (keystore.Key, error) {
	if err := m.checkKeyID(id); err != nil {
		return keystore.Key{}, err
	}
	k, err := change(ctx, id, m.stamp())
	if err != nil {
		return keystore.Key{}, m.keyError(doing, id, err)
	}
	m.audit.key(action, k)
	return k, nil
}

// rotatedKey is the result of a rotation: the new key, shown once, and
// the old key's record with its new expiry.
type rotatedKey struct {
	created createdKey
	old     keystore.Key
}

// rotateKey makes a new key with the name and integration of key id, and
// ends the old one after grace (a lifetime as parseLifetime reads it; 0:
// at once), in one store transaction.
func (m *manager) rotateKey(ctx context.Context, id, grace string) (rotatedKey, error) {
	if err := m.checkKeyID(id); err != nil {
		return rotatedKey{}, err
	}
	if grace == "" {
		return rotatedKey{}, invalid(`missing grace: how long the old key keeps working, such as "1h", "7d", or "0" to end it at once`)
	}
	g, err := parseLifetime("grace", grace, true)
	if err != nil {
		return rotatedKey{}, invalid(err.Error())
	}
	next, err := m.newKey("", "", 0)
	if err != nil {
		return rotatedKey{}, err
	}
	old, err := m.store.RotateKey(ctx, id, next.NewKey, next.CreatedAt.Add(g))
	if err != nil {
		return rotatedKey{}, m.keyError("rotating", id, err)
	}
	next.Name, next.IntegrationID = old.Name, old.IntegrationID
	m.audit.key("key rotated", next.Key, zap.String("rotated_from", old.ID), zap.Timep("old_expires_at", old.ExpiresAt))
	return rotatedKey{created: next, old: old}, nil
}

// checkKeyID refuses what is not a key id, without echoing it: it may be
// a key pasted by mistake.
func (m *manager) checkKeyID(id string) error {
	if !keystore.ValidKeyID(id) {
		return &opError{status: 400,
			msg:  fmt.Sprintf("invalid key id: key ids look like %s followed by 20 letters or digits", keystore.KeyIDPrefix),
			hint: fmt.Sprintf("name keys by id, never by key (see '%s keys list')", m.bin)}
	}
	return nil
}

// keyError turns a store error about key id into what the user reads.
func (m *manager) keyError(doing, id string, err error) error {
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return notFound("unknown key id "+id, fmt.Sprintf("see '%s keys list'", m.bin))
	case errors.Is(err, keystore.ErrAlreadyRevoked):
		return conflict(fmt.Sprintf("key %s is already revoked", id), "")
	}
	return fmt.Errorf("%s key %s: %w", doing, id, err)
}
