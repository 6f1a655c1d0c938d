// Package manage is the management of keygate's integrations and keys,
// for every front end (the command line, the admin API): the operations,
// the checks of their input with the one set of rules of package
// keystore, their audit entries and the JSON views of their results.
// Front ends only phrase its errors (see Error).
package manage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
)

// Manager runs the management operations, one method each: it checks the
// input, calls the store, turns the store's errors into Errors, and writes
// the audit entry.
type Manager struct {
	// Store is the key store; only the checks work without one.
	Store keystore.Store
	// Now is the clock; Random feeds key generation (nil: crypto/rand).
	Now    func() time.Time
	Random io.Reader
	// Audit receives one entry per change; nil: none.
	Audit *Audit
	// Bin is the program's name, for the hints of the command line.
	Bin string
	// Drop drops the cached entries of a key (every key when empty) from
	// the gateway serving the operation, when it runs in one, before
	// ConfirmChange waits for the fleet; nil: none.
	Drop func(keyID string)
}

// stamp is now as the store keeps it.
func (m *Manager) stamp() time.Time { return keystore.Stamp(m.Now()) }

// AddIntegration creates an integration, with its rotation settings as
// SetIntegrationRotation takes them (empty: none), in one write.
func (m *Manager) AddIntegration(ctx context.Context, id, baseURL, rotateEvery, rotateGrace string) (keystore.Integration, error) {
	if err := CheckIntegration(id, baseURL); err != nil {
		return keystore.Integration{}, err
	}
	u, err := keystore.ParseBaseURL(baseURL)
	if err != nil {
		return keystore.Integration{}, baseURLError(err)
	}
	rotation, err := CheckRotation(rotateEvery, rotateGrace)
	if err != nil {
		return keystore.Integration{}, err
	}
	in := keystore.Integration{ID: id, BaseURL: u.String(), CreatedAt: m.stamp(), Rotation: rotation}
	if err := m.Store.CreateIntegration(ctx, in); err != nil {
		if errors.Is(err, keystore.ErrIntegrationExists) {
			return keystore.Integration{}, conflict(fmt.Sprintf("integration %q already exists", id),
				fmt.Sprintf("pick another id (see '%s integrations list')", m.Bin))
		}
		return keystore.Integration{}, fmt.Errorf("adding integration %q: %w", id, err)
	}
	m.Audit.integration("integration added", in)
	return in, nil
}

// ListIntegrations returns every integration.
func (m *Manager) ListIntegrations(ctx context.Context) ([]keystore.Integration, error) {
	ins, err := m.Store.ListIntegrations(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing integrations: %w", err)
	}
	return ins, nil
}

// SetIntegrationURL changes an integration's base URL.
func (m *Manager) SetIntegrationURL(ctx context.Context, id, baseURL string) (keystore.Integration, error) {
	if err := CheckIntegration(id, baseURL); err != nil {
		return keystore.Integration{}, err
	}
	in, err := m.Store.SetIntegrationURL(ctx, id, baseURL)
	if err != nil {
		if errors.Is(err, keystore.ErrNotFound) {
			return keystore.Integration{}, m.unknownIntegration(id)
		}
		return keystore.Integration{}, fmt.Errorf("changing integration %q: %w", id, err)
	}
	m.Audit.integration("integration base url changed", in)
	return in, nil
}

// RemoveIntegration removes an integration and its keys; without force,
// only when none of them is active.
func (m *Manager) RemoveIntegration(ctx context.Context, id string, force bool) (int, error) {
	if err := CheckIntegrationID("id", id); err != nil {
		return 0, err
	}
	n, err := m.Store.RemoveIntegration(ctx, id, force, m.Now())
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return 0, m.unknownIntegration(id)
	case errors.Is(err, keystore.ErrIntegrationInUse):
		return 0, conflict(fmt.Sprintf("integration %q still has active keys", id),
			fmt.Sprintf("revoke or delete them first (see '%s keys list --integration %s --active'), or remove it with --force, which deletes them", m.Bin, id))
	case err != nil:
		return 0, fmt.Errorf("removing integration %q: %w", id, err)
	}
	m.Audit.log("integration removed", zap.String("integration", id), zap.Int("keys_deleted", n), zap.Bool("force", force))
	return n, nil
}

// requireIntegration fails unless the integration exists, so that a typo
// in a filter is not mistaken for an integration without keys.
func (m *Manager) requireIntegration(ctx context.Context, id string) error {
	ins, err := m.ListIntegrations(ctx)
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

func (m *Manager) unknownIntegration(id string) error {
	return notFound(fmt.Sprintf("unknown integration %q", id), fmt.Sprintf("see '%s integrations list'", m.Bin))
}

// KeyRequest is what creating a key takes; the admin API reads it as
// JSON, whose field names the Errors of its checks use.
type KeyRequest struct {
	Integration string `json:"integration"`
	Name        string `json:"name"`
	// ExpiresIn is a lifetime as keystore.ParseLifetime reads it; empty:
	// never.
	ExpiresIn string `json:"expires_in"`
	// ExchangeOnly keys are refused at the edge and only get access
	// tokens at the token endpoint.
	ExchangeOnly bool `json:"exchange_only"`
	// RotateEvery is how often the key is to be rolled, a lifetime;
	// empty: as its integration says.
	RotateEvery string `json:"rotate_every"`
}

// CreatedKey is a key just made: its record, and the key itself, which is
// shown once and never stored.
type CreatedKey struct {
	keystore.NewKey
	Secret string
}

// CheckKeyRequest checks req and returns the key's lifetime (0: none).
// It needs no store.
func CheckKeyRequest(req KeyRequest) (time.Duration, error) {
	if req.Integration == "" {
		return 0, missingField("integration", "")
	}
	if err := CheckIntegrationID("integration", req.Integration); err != nil {
		return 0, err
	}
	if err := keystore.CheckKeyName(req.Name); errors.Is(err, keystore.ErrMissing) {
		return 0, missingField("name", "name the key after who or what will use it")
	} else if err != nil {
		return 0, invalidField("name", err.Error())
	}
	if req.ExpiresIn == "" {
		return 0, nil
	}
	d, err := CheckLifetime("expires_in", req.ExpiresIn, false)
	if err == nil && d < keystore.MinKeyLifetime {
		err = invalidField("expires_in", fmt.Sprintf("%q: a key must live at least %s", strings.TrimSpace(req.ExpiresIn), keystore.MinKeyLifetime))
	}
	return d, err
}

// CheckLifetime reads the lifetime field (as keystore.ParseLifetime, zero
// allowed when zeroOK). It needs no store.
func CheckLifetime(field, value string, zeroOK bool) (time.Duration, error) {
	d, err := keystore.ParseLifetime(value, zeroOK)
	if err != nil {
		return 0, invalidField(field, err.Error())
	}
	return d, nil
}

// CheckIntegrationID checks the integration id given as field. It needs
// no store.
func CheckIntegrationID(field, id string) error {
	if !keystore.ValidIntegrationID(id) {
		return invalidProse(field, fmt.Sprintf("invalid integration id %q: use 1 to 63 lowercase letters, digits, '-' or '_', starting with a letter or digit", id))
	}
	return nil
}

// CheckIntegration checks an integration's id and base URL. It needs no
// store.
func CheckIntegration(id, baseURL string) error {
	if err := CheckIntegrationID("id", id); err != nil {
		return err
	}
	if baseURL == "" {
		return missingField("base_url", "")
	}
	if _, err := keystore.ParseBaseURL(baseURL); err != nil {
		return baseURLError(err)
	}
	return nil
}

// baseURLError is ParseBaseURL's err, which names the base URL itself, as
// an Error with an example.
func baseURLError(err error) error {
	return invalidProse("base_url", err.Error()+" (example: https://api.example.com/v1)")
}

// CreateKey makes a key and stores it; the result holds the key, to be
// shown once.
func (m *Manager) CreateKey(ctx context.Context, req KeyRequest) (CreatedKey, error) {
	lifetime, err := CheckKeyRequest(req)
	if err != nil {
		return CreatedKey{}, err
	}
	created, err := m.newKey(req.Integration, req.Name, lifetime)
	if err != nil {
		return CreatedKey{}, err
	}
	created.ExchangeOnly = req.ExchangeOnly
	if req.RotateEvery != "" {
		if created.RotateEvery, err = CheckRotateEvery("rotate_every", req.RotateEvery); err != nil {
			return CreatedKey{}, err
		}
	}
	if err := m.Store.CreateKey(ctx, created.NewKey); err != nil {
		if errors.Is(err, keystore.ErrUnknownIntegration) {
			return CreatedKey{}, notFound(fmt.Sprintf("unknown integration %q", req.Integration),
				fmt.Sprintf("add it first with '%s integrations add %s --base-url URL'", m.Bin, req.Integration))
		}
		return CreatedKey{}, fmt.Errorf("creating key: %w", err)
	}
	m.Audit.key("key created", created.Key)
	return created, nil
}

// newKey makes a key and its record; lifetime 0 means no expiry.
func (m *Manager) newKey(integration, name string, lifetime time.Duration) (CreatedKey, error) {
	secret, hash, err := keystore.GenerateKey(m.Random, keystore.DefaultPrefix)
	if err != nil {
		return CreatedKey{}, fmt.Errorf("generating key: %w", err)
	}
	id, err := keystore.NewKeyID(m.Random)
	if err != nil {
		return CreatedKey{}, fmt.Errorf("generating key id: %w", err)
	}
	now := m.stamp()
	k := keystore.Key{ID: id, Name: name, IntegrationID: integration, CreatedAt: now}
	if lifetime > 0 {
		exp := now.Add(lifetime)
		k.ExpiresAt = &exp
	}
	return CreatedKey{NewKey: keystore.NewKey{Key: k, Hash: hash}, Secret: secret}, nil
}

// KeyQuery selects keys to list; the admin API reads it from the query
// string. Status flags combine with "or"; none means every key.
type KeyQuery struct {
	Integration              string
	Active, Revoked, Expired bool
}

// ListKeys returns the keys that match q, deleted ones left out.
func (m *Manager) ListKeys(ctx context.Context, q KeyQuery) ([]keystore.Key, error) {
	if q.Integration != "" {
		if err := CheckIntegrationID("integration", q.Integration); err != nil {
			return nil, err
		}
		if err := m.requireIntegration(ctx, q.Integration); err != nil {
			return nil, err
		}
	}
	keys, err := m.Store.ListKeys(ctx, keystore.KeyFilter{IntegrationID: q.Integration})
	if err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	if keys, err = m.withRotateDue(ctx, keys); err != nil {
		return nil, err
	}
	if !q.Active && !q.Revoked && !q.Expired {
		return keys, nil
	}
	want := map[string]bool{"active": q.Active, "revoked": q.Revoked, "expired": q.Expired}
	now := m.Now()
	out := keys[:0]
	for _, k := range keys {
		if want[k.Status(now)] {
			out = append(out, k)
		}
	}
	return out, nil
}

// ShowKey returns a key's record.
func (m *Manager) ShowKey(ctx context.Context, id string) (keystore.Key, error) {
	if err := CheckKeyID(id, m.Bin); err != nil {
		return keystore.Key{}, err
	}
	k, err := m.Store.GetKey(ctx, id)
	if err != nil {
		return keystore.Key{}, m.keyError("reading", id, err)
	}
	keys, err := m.withRotateDue(ctx, []keystore.Key{k})
	if err != nil {
		return keystore.Key{}, err
	}
	return keys[0], nil
}

// RevokeKey revokes a key now.
func (m *Manager) RevokeKey(ctx context.Context, id string) (keystore.Key, error) {
	return m.changeKey(ctx, id, "revoking", "key revoked", m.Store.RevokeKey)
}

// DeleteKey soft-deletes a key now.
func (m *Manager) DeleteKey(ctx context.Context, id string) (keystore.Key, error) {
	return m.changeKey(ctx, id, "deleting", "key deleted", m.Store.DeleteKey)
}

// changeKey runs a store change of key id stamped now, and audits it as
// action.
func (m *Manager) changeKey(ctx context.Context, id, doing, action string,
	change func(ctx context.Context, id string, at time.Time) (keystore.Key, error)) (keystore.Key, error) {
	if err := CheckKeyID(id, m.Bin); err != nil {
		return keystore.Key{}, err
	}
	k, err := change(ctx, id, m.stamp())
	if err != nil {
		return keystore.Key{}, m.keyError(doing, id, err)
	}
	m.Audit.key(action, k)
	return k, nil
}

// RotatedKey is the result of a rotation: the new key, shown once, and
// the old key's record with its new expiry.
type RotatedKey struct {
	Created CreatedKey
	Old     keystore.Key
}

// EndsNow reports whether the rotation ended the old key at once (grace
// 0), which makes it a change to confirm with the gateways.
func (r RotatedKey) EndsNow() bool {
	return r.Old.ExpiresAt != nil && !r.Old.ExpiresAt.After(r.Created.CreatedAt)
}

// RotateKey makes a new key with the name and integration of key id, and
// ends the old one after grace (a lifetime as keystore.ParseLifetime reads it; 0:
// at once), in one store transaction.
func (m *Manager) RotateKey(ctx context.Context, id, grace string) (RotatedKey, error) {
	if err := CheckKeyID(id, m.Bin); err != nil {
		return RotatedKey{}, err
	}
	if grace == "" {
		return RotatedKey{}, missingField("grace", `how long the old key keeps working, such as "1h", "7d", or "0" to end it at once`)
	}
	g, err := CheckLifetime("grace", grace, true)
	if err != nil {
		return RotatedKey{}, err
	}
	return m.rotate(ctx, "key rotated", id, g)
}

// rotate makes the successor of the key with this id and ends the old
// one after grace, in one store transaction; the successor takes the old
// key's name, integration, exchange-only and rotation period (in the
// store, and so in the answer). It is audited as action.
func (m *Manager) rotate(ctx context.Context, action, id string, grace time.Duration) (RotatedKey, error) {
	next, err := m.newKey("", "", 0)
	if err != nil {
		return RotatedKey{}, err
	}
	old, err := m.Store.RotateKey(ctx, id, next.NewKey, next.CreatedAt.Add(grace))
	if err != nil {
		return RotatedKey{}, m.keyError("rotating", id, err)
	}
	next.Name, next.IntegrationID = old.Name, old.IntegrationID
	next.ExchangeOnly, next.RotateEvery = old.ExchangeOnly, old.RotateEvery
	m.Audit.key(action, next.Key, zap.String("rotated_from", old.ID), zap.Timep("old_expires_at", old.ExpiresAt))
	return RotatedKey{Created: next, Old: old}, nil
}

// CheckKeyID refuses what is not a key id, without echoing it: it may be
// a key pasted by mistake. bin names the program in the hint.
func CheckKeyID(id, bin string) error {
	if !keystore.ValidKeyID(id) {
		return &Error{Kind: Invalid, Field: "id", Prose: true,
			Problem: fmt.Sprintf("invalid key id: key ids look like %s followed by 20 letters or digits", keystore.KeyIDPrefix),
			Hint:    fmt.Sprintf("name keys by id, never by key (see '%s keys list')", bin)}
	}
	return nil
}

// keyError turns a store error about key id into what the user reads.
func (m *Manager) keyError(doing, id string, err error) error {
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return notFound("unknown key id "+id, fmt.Sprintf("see '%s keys list'", m.Bin))
	case errors.Is(err, keystore.ErrAlreadyRevoked):
		return conflict(fmt.Sprintf("key %s is already revoked", id), "")
	}
	return fmt.Errorf("%s key %s: %w", doing, id, err)
}
