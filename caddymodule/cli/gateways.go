package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/manage"
)

// setupGateways configures `keygate gateways` and its subcommands.
func (c *cli) setupGateways(cmd *cobra.Command) {
	c.setupGroup(cmd, c.gatewaysList(), c.gatewaysWait())
}

// gatewaysList is `keygate gateways list [--json]`.
func (c *cli) gatewaysList() *cobra.Command {
	cmd := newSubcommand("list [--json]", "List the gateway instances, live and stale, and how far each has applied the change feed")
	asJSON := cmd.Flags().Bool("json", false, "print a JSON array")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return c.withManager(cmd, func(ctx context.Context, m *manage.Manager) error {
			f, err := m.Gateways(ctx)
			if err != nil {
				return err
			}
			if *asJSON {
				return writeJSON(cmd.OutOrStdout(), manage.GatewaysView(f))
			}
			return writeGatewaysTable(cmd.OutOrStdout(), f)
		})
	}
	return cmd
}

// gatewaysWait is `keygate gateways wait [SEQ] [--wait DURATION] [--json]`.
func (c *cli) gatewaysWait() *cobra.Command {
	cmd := newSubcommand("wait [SEQ] [--wait DURATION] [--json]",
		"Wait until every live gateway has applied change feed sequence SEQ (default: every change made so far)")
	cmd.Long = `Wait until every live gateway has applied the change feed up to SEQ, or fail
after --wait naming those that have not. Without SEQ, it waits for every
change committed so far: run it right after a change made with plain SQL,
such as UPDATE keygate_keys SET revoked_at = now() WHERE id = '...'. SEQ is
what a command that could not confirm printed, or "seq" in its --json.`
	cmd.Args = cobra.MaximumNArgs(1)
	wait := cmd.Flags().Duration("wait", manage.DefaultWait, "how long to wait before failing")
	asJSON := cmd.Flags().Bool("json", false, `print {"live", "confirmed", "ms", "seq"}`)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var seq int64
		if len(args) == 1 {
			n, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || n < 1 {
				return fmt.Errorf("invalid SEQ: want a change feed sequence, a whole number from 1 (see '%s gateways wait --help')", binary(cmd))
			}
			seq = n
		}
		if err := (&waitFlags{wait: *wait}).check(); err != nil {
			return err
		}
		return c.withManager(cmd, func(ctx context.Context, m *manage.Manager) error {
			done, err := confirm(ctx, m, seq, *wait)
			if err != nil {
				return err
			}
			if done == nil {
				return keystore.ErrNoFleet
			}
			if *asJSON {
				if err := writeJSON(cmd.OutOrStdout(), done.JSON()); err != nil {
					return err
				}
			}
			return done.finish(cmd.OutOrStdout(), !*asJSON)
		})
	}
	return cmd
}

// writeGatewaysTable prints the fleet, with the feed's head.
func writeGatewaysTable(w io.Writer, f keystore.Fleet) error {
	rows := make([][]string, len(f.Gateways))
	live := 0
	for i, g := range manage.GatewaysView(f) {
		if g.Status == "live" {
			live++
		}
		rows[i] = []string{g.InstanceID, printable(g.Hostname), printable(g.Version), g.Status,
			strconv.FormatInt(g.AppliedSeq, 10), strconv.FormatInt(g.Lag, 10),
			(time.Duration(g.LastSeenMSAgo) * time.Millisecond).Round(100*time.Millisecond).String() + " ago",
			formatTime(g.StartedAt)}
	}
	header := []string{"INSTANCE", "HOST", "VERSION", "STATUS", "APPLIED", "LAG", "LAST SEEN", "STARTED"}
	if err := writeTable(w, "No gateways have followed this key store in the last 24 hours.", header, rows); err != nil {
		return err
	}
	return writeText(w, func(p *printer) {
		p.linef("%d live, %d stale; change feed at seq %d.", live, len(f.Gateways)-live, f.Head)
	})
}
