package manage

import (
	"go.uber.org/zap"

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
}

// log writes one entry.
func (a *Audit) log(action string, fields ...zap.Field) {
	if a == nil || a.Logger == nil {
		return
	}
	a.Logger.Info(action, append([]zap.Field{zap.String("action", action), zap.String("actor", a.Actor)}, fields...)...)
}

// key writes an entry about a key.
func (a *Audit) key(action string, k keystore.Key, fields ...zap.Field) {
	a.log(action, append([]zap.Field{
		zap.String("key_id", k.ID), zap.String("name", k.Name), zap.String("integration", k.IntegrationID),
	}, fields...)...)
}

// integration writes an entry about an integration.
func (a *Audit) integration(action string, in keystore.Integration) {
	a.log(action, zap.String("integration", in.ID), zap.String("base_url", in.BaseURL))
}
