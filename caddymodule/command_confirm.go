package caddymodule

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

// maxWait bounds --wait.
const maxWait = 10 * time.Minute

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
	if w.wait <= 0 || w.wait > maxWait {
		return fmt.Errorf("invalid --wait %s: want a duration above 0 and at most %s, such as 5s (or --no-wait)", w.wait, maxWait)
	}
	return nil
}

// confirmed is a confirmation as a command prints it: nil with --no-wait.
type confirmed struct {
	c    keystore.Confirmation
	json *manage.ConfirmationJSON
	wait time.Duration
	bin  string
}

// confirm waits, unless --no-wait, for every live gateway of s to apply
// every change committed so far. A store that keeps no fleet confirms
// nothing, and is no error.
func (w *waitFlags) confirm(cmd *cobra.Command, s keystore.Store) (*confirmed, error) {
	if w.noWait {
		return nil, nil
	}
	return confirmNow(cmd.Context(), cmd, s, 0, w.wait)
}

// confirmNow waits for seq (0: the feed's head now) to reach the fleet of
// s, for at most wait.
func confirmNow(ctx context.Context, cmd *cobra.Command, s keystore.Store, seq int64, wait time.Duration) (*confirmed, error) {
	var c keystore.Confirmation
	var err error
	if seq == 0 {
		c, err = manage.ConfirmChange(ctx, s, wait, nil)
	} else {
		c, err = manage.ConfirmSeq(ctx, s, seq, wait, nil)
	}
	if errors.Is(err, keystore.ErrNoFleet) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v := manage.ConfirmationView(c)
	return &confirmed{c: c, json: &v, wait: wait, bin: binary(cmd)}, nil
}

// JSON is the "gateways" field of --json output: nil with --no-wait.
func (c *confirmed) JSON() *manage.ConfirmationJSON {
	if c == nil {
		return nil
	}
	return c.json
}

// finish prints the confirmation line after a command's text output, and
// returns the error of a confirmation that ran out of time, which fails
// the command.
func (c *confirmed) finish(w io.Writer, text bool) error {
	if c == nil {
		return nil
	}
	if !c.c.Done() {
		return manage.NotConfirmed(c.c, c.wait, c.bin)
	}
	if text {
		_, err := fmt.Fprintln(w, manage.ConfirmationSummary(c.c))
		return err
	}
	return nil
}

// withGateways is a --json result with the confirmation added under
// "gateways".
type withGateways[T any] struct {
	Result   T
	Gateways *manage.ConfirmationJSON
}

// MarshalJSON writes Result's fields, then "gateways" when set.
func (r withGateways[T]) MarshalJSON() ([]byte, error) {
	return mergeJSON(r.Result, "gateways", r.Gateways)
}
