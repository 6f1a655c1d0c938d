package caddymodule

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/keystore/secretscan"
	"github.com/keygate/keygate/manage"
)

// handleReport answers each match of a verified report, revoking the
// valid keys, and returns the feedback and how many keys it revoked. A
// token reported twice is handled once. It fails only when the store
// cannot answer; the revocations made until then stand, and a retry of
// the report finds them done.
func (h *SecretScanning) handleReport(ctx context.Context, partner secretscan.Partner, matches []secretscan.Match) ([]secretscan.Feedback, int, error) {
	feedback := make([]secretscan.Feedback, 0, len(matches))
	labels := make(map[keystore.Hash]string, len(matches))
	var revoked []keystore.Key
	for _, m := range matches {
		fb := secretscan.Feedback{TokenHash: secretscan.TokenHash(m.Token), TokenType: m.Type, Label: secretscan.FalsePositive}
		// Checked as at the edge: what is not a keygate key costs no
		// lookup.
		hash, err := keystore.ParseKey(h.app.Prefix(), m.Token)
		if err == nil {
			label, seen := labels[hash]
			if !seen {
				var k *keystore.Key
				label, k, err = h.handleKey(ctx, partner, m, hash, fb.TokenHash)
				if err != nil {
					return nil, len(revoked), err
				}
				labels[hash] = label
				if k != nil {
					revoked = append(revoked, *k)
				}
			}
			fb.Label = label
		}
		feedback = append(feedback, fb)
	}
	if len(revoked) > 0 {
		if err := confirmRevocations(ctx, h.app.runtime, revoked); err != nil {
			h.logger.Warn("revocations not confirmed by every gateway", zap.Int("keys", len(revoked)), zap.Error(err))
		}
	}
	return feedback, len(revoked), nil
}

// handleKey looks up the reported key by its hash and, if it is valid,
// revokes it, drops it from this instance's cache and returns it. A key
// unknown to the store is a false positive; any key it knows, valid or
// not, a true positive.
func (h *SecretScanning) handleKey(ctx context.Context, partner secretscan.Partner, m secretscan.Match, hash keystore.Hash, tokenHash string) (label string, revoked *keystore.Key, err error) {
	var cred keystore.Credential
	err = h.app.runtime.WithStore(func(s keystore.Store, _ func(string)) error {
		cred, err = s.LookupCredential(ctx, hash)
		return err
	})
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		h.logger.Info("reported token is not a key of this store", zap.String("partner", partner.Name), zap.String("token_hash", tokenHash))
		return secretscan.FalsePositive, nil, nil
	case err != nil:
		return "", nil, err
	}
	fields := []zap.Field{zap.String("partner", partner.Name), zap.String("key_id", cred.KeyID),
		zap.String("key_name", cred.KeyName), zap.String("integration", cred.IntegrationID),
		zap.String("url", m.URL), zap.String("source", m.Source), zap.String("token_hash", tokenHash)}
	if status := credentialStatus(cred, h.clock()); status != "active" {
		h.logger.Info("reported key was already refused", append(fields, zap.String("status", status))...)
		return secretscan.TruePositive, nil, nil
	}
	k, err := h.revoke(ctx, partner, m, cred.KeyID, tokenHash)
	switch me, _ := manage.AsError(err); {
	case me != nil && (me.Kind == manage.Conflict || me.Kind == manage.NotFound):
		// Revoked or deleted since the lookup: by a replay of this very
		// report, say.
		h.logger.Info("reported key was already refused", append(fields, zap.String("status", "revoked"))...)
		return secretscan.TruePositive, nil, nil
	case err != nil:
		return "", nil, err
	}
	if _, err := h.app.runtime.Drop(k.ID); err != nil {
		h.logger.Warn("cannot drop the revoked key from this instance's cache", zap.String("key_id", k.ID), zap.Error(err))
	}
	h.logger.Warn("leaked key revoked", fields...)
	return secretscan.TruePositive, &k, nil
}

// revoke revokes the key through the management operations, in the name
// of the partner, with what it reported in the audit entry.
func (h *SecretScanning) revoke(ctx context.Context, partner secretscan.Partner, m secretscan.Match, keyID, tokenHash string) (keystore.Key, error) {
	var k keystore.Key
	err := h.app.runtime.WithStore(func(s keystore.Store, _ func(string)) error {
		mgr := &manage.Manager{Store: s, Now: h.clock, Bin: "keygate", Audit: &manage.Audit{
			Logger: h.audit, Actor: "secret-scanning:" + partner.Name,
			Fields: []zap.Field{zap.String("url", m.URL), zap.String("source", m.Source),
				zap.String("token_type", m.Type), zap.String("token_hash", tokenHash)},
		}}
		var err error
		k, err = mgr.RevokeKey(ctx, keyID)
		return err
	})
	return k, err
}

// credentialStatus is "revoked" (deleted keys included), "expired" or
// "active" as of now.
func credentialStatus(c keystore.Credential, now time.Time) string {
	switch {
	case !c.RevokedAt.IsZero():
		return "revoked"
	case !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt):
		return "expired"
	}
	return "active"
}

// confirmRevocations waits, once per report, until every live gateway
// has applied the revocations it made (each already dropped from this
// instance's cache), for at most manage.DefaultWait: the report is
// answered either way, and a gateway behind is logged.
func confirmRevocations(ctx context.Context, rt *gateway.Runtime, keys []keystore.Key) error {
	return rt.WithStore(func(s keystore.Store, _ func(string)) error {
		m := &manage.Manager{Store: s, Now: rt.Now, Bin: "keygate"}
		c, err := m.ConfirmChange(ctx, "", manage.DefaultWait)
		switch {
		case errors.Is(err, keystore.ErrNoFleet):
			return nil
		case err != nil:
			return err
		case !c.Done():
			return m.NotConfirmed(c, manage.DefaultWait)
		}
		return nil
	})
}
