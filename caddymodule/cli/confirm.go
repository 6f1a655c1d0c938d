package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/manage"
)

// Confirmed revocation on the command line: a command that makes a key
// unusable (keys revoke, delete, rotate --grace 0, integrations remove)
// returns once every live gateway has applied the change, and says so, or
// fails after --wait naming the gateways that have not.

// waitFlags are --wait and --no-wait.
type waitFlags struct {
	wait   time.Duration
	noWait bool
}

// addWaitFlags adds --wait and --no-wait to cmd.
func addWaitFlags(cmd *cobra.Command) *waitFlags {
	w := &waitFlags{}
	cmd.Flags().DurationVar(&w.wait, "wait", manage.DefaultWait,
		"how long to wait for every live gateway to apply the change before failing")
	cmd.Flags().BoolVar(&w.noWait, "no-wait", false, "return once the change is in the key store, without waiting for the gateways")
	return w
}

// check refuses a --wait out of bounds, before the store is opened.
func (w *waitFlags) check() error {
	if w.noWait {
		return nil
	}
	return phrase(manage.CheckWait("wait", w.wait))
}

// confirmed is a confirmation as a command prints it; a nil one (with
// --no-wait, or on a store that keeps no fleet) prints nothing.
type confirmed struct {
	c    keystore.Confirmation
	wait time.Duration
	m    *manage.Manager
}

// confirm waits, unless --no-wait, for every live gateway of m's store to
// apply every change committed so far.
func (w *waitFlags) confirm(ctx context.Context, m *manage.Manager) (*confirmed, error) {
	if w.noWait {
		return nil, nil
	}
	return confirm(ctx, m, 0, w.wait)
}

// confirm waits for seq (0: every change committed so far) to reach the
// fleet of m's store, for at most wait.
func confirm(ctx context.Context, m *manage.Manager, seq int64, wait time.Duration) (*confirmed, error) {
	var c keystore.Confirmation
	var err error
	if seq == 0 {
		c, err = m.ConfirmChange(ctx, "", wait)
	} else {
		c, err = m.ConfirmSeq(ctx, seq, wait)
	}
	if errors.Is(err, keystore.ErrNoFleet) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &confirmed{c: c, wait: wait, m: m}, nil
}

// JSON is the "gateways" field of --json output: nil when c is.
func (c *confirmed) JSON() *manage.ConfirmationJSON {
	if c == nil {
		return nil
	}
	v := manage.ConfirmationView(c.c)
	return &v
}

// finish prints the confirmation line after a command's text output, and
// returns the error of a confirmation that ran out of time, which fails
// the command.
func (c *confirmed) finish(w io.Writer, text bool) error {
	if c == nil {
		return nil
	}
	if !c.c.Done() {
		return c.m.NotConfirmed(c.c, c.wait)
	}
	if text {
		_, err := fmt.Fprintln(w, manage.ConfirmationSummary(c.c))
		return err
	}
	return nil
}

// confirmedOutput writes a change's result, as JSON with the confirmation
// under "gateways", or as text with write and the confirmation line, and
// fails when the confirmation ran out of time.
func confirmedOutput(w io.Writer, asJSON bool, result any, write func(io.Writer) error, done *confirmed) error {
	var err error
	if asJSON {
		err = writeJSON(w, manage.WithGateways{Result: result, Gateways: done.JSON()})
	} else {
		err = write(w)
	}
	if err != nil {
		return err
	}
	return done.finish(w, !asJSON)
}
