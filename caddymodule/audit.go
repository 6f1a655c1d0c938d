package caddymodule

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/keygate/keygate/keystore"
)

// auditLoggerName is the logger of the audit log: one entry per
// management action, from the command line or the admin API.
const auditLoggerName = "keygate.audit"

// auditLog writes the audit entries of one actor. An entry has the action
// (also its message), the key's id, name and integration where there is
// one, and the actor: who asked. Never the key.
type auditLog struct {
	logger *zap.Logger
	actor  string
	// store, when not nil, keeps each entry too (table keygate_audit), for
	// the portal and GET /keygate/audit.
	store keystore.Store
	now   func() time.Time
}

// auditStoreTimeout bounds the storing of one audit entry.
const auditStoreTimeout = 5 * time.Second

// log writes one entry.
func (a *auditLog) log(action string, fields ...zap.Field) {
	if a == nil || a.logger == nil {
		return
	}
	a.logger.Info(action, append([]zap.Field{zap.String("action", action), zap.String("actor", a.actor)}, fields...)...)
	if a.store == nil {
		return
	}
	if err := a.keep(action, fields); err != nil {
		a.logger.Warn("storing the audit entry failed", zap.String("action", action), zap.Error(err))
	}
}

// keep stores an entry: the key id and integration in their columns, the
// other fields as its details. The change it records is done already, so
// a failure here is logged, not returned to who asked.
func (a *auditLog) keep(action string, fields []zap.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	e := keystore.AuditEntry{At: a.now().UTC(), Actor: a.actor, Action: action}
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
	_, err := a.store.AppendAudit(ctx, e)
	return err
}

// key writes an entry about a key.
func (a *auditLog) key(action string, k keystore.Key, fields ...zap.Field) {
	a.log(action, append([]zap.Field{
		zap.String("key_id", k.ID), zap.String("name", k.Name), zap.String("integration", k.IntegrationID),
	}, fields...)...)
}

// integration writes an entry about an integration.
func (a *auditLog) integration(action string, in keystore.Integration) {
	a.log(action, zap.String("integration", in.ID), zap.String("base_url", in.BaseURL))
}

// newCLIAuditLogger returns the command line's audit logger: JSON lines on
// standard error, as Caddy's own logs look, so that standard output stays
// the command's result.
func newCLIAuditLogger() *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey, enc.EncodeTime = "ts", zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(os.Stderr), zapcore.InfoLevel)
	return zap.New(core).Named(auditLoggerName)
}

// osActor names who runs the command line: the OS user, and the user who
// ran sudo when there is one.
func osActor(getenv func(string) string) string {
	name := "uid " + strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if s := getenv("SUDO_USER"); s != "" && s != name {
		name += " (sudo by " + s + ")"
	}
	return name
}
