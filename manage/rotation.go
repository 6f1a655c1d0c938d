package manage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
)

// DefaultSelfRotateGrace is how long the old key keeps working when a
// calling system rolls its own key and its integration sets no grace.
const DefaultSelfRotateGrace = time.Hour

// CheckRotateEvery reads a rotation period given as field: a lifetime of
// at least a minute, in whole seconds. It needs no store.
func CheckRotateEvery(field, value string) (time.Duration, error) {
	d, err := CheckLifetime(field, value, false)
	if err != nil {
		return 0, err
	}
	if err := (keystore.Rotation{Every: d}).Validate(); err != nil {
		return 0, invalidField(field, err.Error())
	}
	return d, nil
}

// SetIntegrationRotation sets an integration's default rotation period of
// its keys (a lifetime, or "0": never) and the grace of a key its calling
// system rolls itself (a lifetime; empty or "0": DefaultSelfRotateGrace),
// both at once, as the admin API's fields rotate_every and rotate_grace.
func (m *Manager) SetIntegrationRotation(ctx context.Context, id, every, grace string) (keystore.Integration, error) {
	if err := CheckIntegrationID("id", id); err != nil {
		return keystore.Integration{}, err
	}
	if every == "" {
		return keystore.Integration{}, missingField("rotate_every", `how often its keys are to be rolled, such as "30d", or "0" for never`)
	}
	r, err := CheckRotation(every, grace)
	if err != nil {
		return keystore.Integration{}, err
	}
	in, err := m.Store.SetIntegrationRotation(ctx, id, r)
	if errors.Is(err, keystore.ErrNotFound) {
		return keystore.Integration{}, m.unknownIntegration(id)
	}
	if err != nil {
		return keystore.Integration{}, fmt.Errorf("changing integration %q: %w", id, err)
	}
	inEffect, graceInEffect := RotationInEffect(in.Rotation)
	m.Audit.log("integration rotation set", zap.String("integration", in.ID),
		zap.String("rotate_every", inEffect), zap.String("rotate_grace", graceInEffect))
	return in, nil
}

// RotationInEffect says how often keys are rolled by r ("never", or a
// lifetime) and how long a key its holder rolls keeps working (r's grace,
// or DefaultSelfRotateGrace).
func RotationInEffect(r keystore.Rotation) (every, grace string) {
	every, grace = "never", keystore.FormatLifetime(DefaultSelfRotateGrace)
	if r.Every > 0 {
		every = keystore.FormatLifetime(r.Every)
	}
	if r.Grace > 0 {
		grace = keystore.FormatLifetime(r.Grace)
	}
	return every, grace
}

// CheckRotation reads an integration's rotation settings: every a
// lifetime, or empty or "0" for none; grace a lifetime, or empty or "0"
// for DefaultSelfRotateGrace. It needs no store.
func CheckRotation(every, grace string) (keystore.Rotation, error) {
	var r keystore.Rotation
	var err error
	if every != "" && every != "0" {
		if r.Every, err = CheckRotateEvery("rotate_every", every); err != nil {
			return r, err
		}
	}
	if grace != "" {
		if r.Grace, err = CheckLifetime("rotate_grace", grace, true); err != nil {
			return r, err
		}
	}
	if err := r.Validate(); err != nil {
		return r, invalidField("rotate_grace", err.Error())
	}
	return r, nil
}

// withRotateDue sets each key's RotateDue from its own period or, when it
// has none, its integration's.
func (m *Manager) withRotateDue(ctx context.Context, keys []keystore.Key) ([]keystore.Key, error) {
	ins, err := m.Store.ListIntegrations(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing integrations: %w", err)
	}
	every := make(map[string]time.Duration, len(ins))
	for _, in := range ins {
		every[in.ID] = in.Rotation.Every
	}
	for i := range keys {
		if due, ok := keys[i].RotateDue(every[keys[i].IntegrationID]); ok {
			keys[i].RotateDueAt = &due
		}
	}
	return keys, nil
}

// RotationStatus is what keygate_rotate answers a GET with: the key's id,
// when it is due to be rolled (nil: never), and whether it is now.
type RotationStatus struct {
	ID        string     `json:"id"`
	RotateDue *time.Time `json:"rotate_due"`
	Due       bool       `json:"due"`
}

// KeyRotationStatus says when the key with this id is due to be rolled.
func (m *Manager) KeyRotationStatus(ctx context.Context, id string) (RotationStatus, error) {
	k, err := m.ShowKey(ctx, id)
	if err != nil {
		return RotationStatus{}, err
	}
	return RotationStatus{ID: k.ID, RotateDue: utcPtr(k.RotateDueAt), Due: k.DueForRotation(m.Now())}, nil
}

// RotateOwnKey rolls the key with this id on its own request (the calling
// system authenticated with it), with its integration's grace, or
// DefaultSelfRotateGrace when the integration sets none.
func (m *Manager) RotateOwnKey(ctx context.Context, id, integration string) (RotatedKey, error) {
	in, err := m.Store.GetIntegration(ctx, integration)
	if err != nil {
		return RotatedKey{}, fmt.Errorf("reading integration %q: %w", integration, err)
	}
	grace := in.Rotation.Grace
	if grace == 0 {
		grace = DefaultSelfRotateGrace
	}
	return m.rotate(ctx, "key rotated by its holder", id, grace)
}
