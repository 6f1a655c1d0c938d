package caddymodule

import (
	"context"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
)

// manager returns the operations of the command line on store s, with
// audit entries on the CLI's audit logger in the name of the OS user.
func (c *cli) manager(cmd *cobra.Command, s keystore.Store) *manager {
	logger := zap.NewNop()
	if c.auditLogger != nil {
		logger = c.auditLogger()
	}
	bin := "keygate"
	if cmd != nil {
		bin = binary(cmd)
	}
	return &manager{store: s, now: c.now, random: c.random, bin: bin,
		audit: &auditLog{logger: logger, actor: osActor(c.getenv), store: s, now: c.now}}
}

// withManager opens the store named on cmd's command line and runs fn with
// the operations on it. An opError comes back with its hint.
func (c *cli) withManager(cmd *cobra.Command, fn func(ctx context.Context, m *manager) error) error {
	return c.withStore(cmd, func(ctx context.Context, s keystore.Store) error {
		return withHint(fn(ctx, c.manager(cmd, s)))
	})
}

// precheck runs a check of the input before any store is opened, so that
// a mistake costs no connection.
func (c *cli) precheck(check func(m *manager) error) error {
	return withHint(check(c.manager(nil, nil)))
}
