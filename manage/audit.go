package manage

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/keygate/keygate/keystore"
)

// AuditLoggerName is the logger of the audit log: one entry per
// management action, from any front end.
const AuditLoggerName = "keygate.audit"

// Audit writes the audit entries of one actor. An entry has the action
// (also its message), the key's id, name and integration where there is
// one, and the actor: who asked. Never the key.
type Audit struct {
	Logger *zap.Logger
	Actor  string
	// Fields go into every entry: what the actor said when it asked, such
	// as the URL where a secret-scanning partner found a key.
	Fields []zap.Field
	// Store, when not nil, keeps each entry too (table keygate_audit), for
	// the portal and GET /keygate/audit; Now stamps them (nil: time.Now).
	Store keystore.Store
	Now   func() time.Time
}

// auditStoreTimeout bounds the storing of one audit entry.
const auditStoreTimeout = 5 * time.Second

// log writes one entry.
func (a *Audit) log(action string, fields ...zap.Field) {
	if a == nil || a.Logger == nil {
		return
	}
	fields = append(slices.Clip(a.Fields), fields...)
	a.Logger.Info(action, append([]zap.Field{zap.String("action", action), zap.String("actor", a.Actor)}, fields...)...)
	if a.Store == nil {
		return
	}
	if err := a.keep(action, fields); err != nil {
		a.Logger.Warn("storing the audit entry failed", zap.String("action", action), zap.Error(err))
	}
}

// keep stores an entry: the key id and integration in their columns, the
// other fields as its details. The change it records is done already, so
// a failure here is logged, not returned to who asked.
func (a *Audit) keep(action string, fields []zap.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	e := keystore.AuditEntry{At: now().UTC(), Actor: a.Actor, Action: action}
	e.KeyID, _ = enc.Fields["key_id"].(string)
	e.IntegrationID, _ = enc.Fields["integration"].(string)
	delete(enc.Fields, "key_id")
	delete(enc.Fields, "integration")
	if len(enc.Fields) > 0 {
		details, err := json.Marshal(enc.Fields)
		if err != nil {
			return fmt.Errorf("encoding the details: %w", err)
		}
		e.Details = details
	}
	ctx, cancel := context.WithTimeout(context.Background(), auditStoreTimeout)
	defer cancel()
	_, err := a.Store.AppendAudit(ctx, e)
	return err
}

// key writes an entry about a key.
func (a *Audit) key(action string, k keystore.Key, fields ...zap.Field) {
	a.log(action, append([]zap.Field{
		zap.String("key_id", k.ID), zap.String("name", k.Name), zap.String("integration", k.IntegrationID),
	}, fields...)...)
}

// integration writes an entry about an integration, with its rotation
// settings when it has any.
func (a *Audit) integration(action string, in keystore.Integration) {
	fields := []zap.Field{zap.String("integration", in.ID), zap.String("base_url", in.BaseURL)}
	if every := optionalLifetime(in.Rotation.Every); every != "" {
		fields = append(fields, zap.String("rotate_every", every))
	}
	if grace := optionalLifetime(in.Rotation.Grace); grace != "" {
		fields = append(fields, zap.String("rotate_grace", grace))
	}
	a.log(action, fields...)
}
