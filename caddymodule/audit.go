package caddymodule

import (
	"os"
	"os/user"
	"strconv"

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
	// fields go into every entry: what the actor said when it asked, such
	// as the URL where a secret-scanning partner found a key.
	fields []zap.Field
}

// log writes one entry.
func (a *auditLog) log(action string, fields ...zap.Field) {
	if a == nil || a.logger == nil {
		return
	}
	all := append([]zap.Field{zap.String("action", action), zap.String("actor", a.actor)}, a.fields...)
	a.logger.Info(action, append(all, fields...)...)
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
