package cli

import (
	"context"
	"errors"
	"os"
	"os/user"
	"strconv"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/manage"
)

// manager returns the operations of the command line on store s, with
// audit entries on the CLI's audit logger in the name of the OS user.
func (c *cli) manager(cmd *cobra.Command, s keystore.Store) *manage.Manager {
	logger := zap.NewNop()
	if c.auditLogger != nil {
		logger = c.auditLogger()
	}
	return &manage.Manager{Store: s, Now: c.now, Random: c.random, Bin: binary(cmd),
		Audit: &manage.Audit{Logger: logger, Actor: osActor(c.getenv), Store: s, Now: c.now}}
}

// withManager opens the store named on cmd's command line and runs fn with
// the operations on it. Their errors come back phrased (see phrase).
func (c *cli) withManager(cmd *cobra.Command, fn func(ctx context.Context, m *manage.Manager) error) error {
	return c.withStore(cmd, func(ctx context.Context, s keystore.Store) error {
		return phrase(fn(ctx, c.manager(cmd, s)))
	})
}

// flags are how the command line spells the fields of manage's Errors:
// as missing, and as invalid.
var flags = map[string]struct{ missing, invalid string }{
	"name":         {"--name NAME", "--name"},
	"integration":  {"--integration ID", "--integration"},
	"expires_in":   {"--expires-in DURATION", "--expires-in"},
	"grace":        {"--grace DURATION", "--grace"},
	"base_url":     {"--base-url URL", "--base-url"},
	"max_key_age":  {"--max-key-age DURATION", "--max-key-age"},
	"wait":         {"--wait DURATION", "--wait"},
	"rotate_every": {"--rotate-every DURATION", "--rotate-every"},
	"rotate_grace": {"--rotate-grace DURATION", "--rotate-grace"},
	"id":           {"ID", "ID"},
}

// phrase returns err as the command line shows it: a manage.Error naming
// its field by the flag, with its hint; anything else as it is.
func phrase(err error) error {
	e, ok := manage.AsError(err)
	if !ok {
		return err
	}
	f, known := flags[e.Field]
	name := f.invalid
	if e.Missing {
		name = f.missing
	}
	if !known {
		name = e.Field
	}
	msg := e.Message(name)
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	return errors.New(msg)
}

// binary returns the name this program was invoked under, for hints.
func binary(cmd *cobra.Command) string {
	if cmd == nil {
		return "keygate"
	}
	return cmd.Root().Name()
}

// newAuditLogger returns the command line's audit logger: JSON lines on
// standard error, as Caddy's own logs look, so that standard output stays
// the command's result.
func newAuditLogger() *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey, enc.EncodeTime = "ts", zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(os.Stderr), zapcore.InfoLevel)
	return zap.New(core).Named(manage.AuditLoggerName)
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
