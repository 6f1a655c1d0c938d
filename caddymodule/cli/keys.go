package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/manage"
)

// setupKeys configures `keygate keys` and its subcommands.
func (c *cli) setupKeys(cmd *cobra.Command) {
	c.setupGroup(cmd, c.keysCreate(), c.keysList(), c.keysShow(), c.keysRevoke(), c.keysRotate(), c.keysDelete())
}

// keysCreate is `keygate keys create --integration ID --name NAME
// [--expires-in DURATION] [--json]`.
func (c *cli) keysCreate() *cobra.Command {
	cmd := newSubcommand("create --integration ID --name NAME [--expires-in DURATION] [--exchange-only] [--rotate-every DURATION] [--json]",
		"Create an Access Key for an integration and show it once")
	cmd.Long = `Create an Access Key for an integration. The key is printed once and cannot
be shown again: only its hash is stored. DURATION is a Go duration ("12h",
"90m") or a number of days ("30d"); without it the key never expires.

An --exchange-only key is refused at the edge: it only gets short-lived
access tokens at a keygate_token endpoint, so that the long-lived secret never
travels with ordinary requests. --rotate-every says how often the calling
system is to roll the key ('keygate credential rotate' does it); without it,
the integration's default applies.`
	var req manage.KeyRequest
	cmd.Flags().StringVar(&req.Integration, "integration", "", "the integration the key gives access to")
	cmd.Flags().StringVar(&req.Name, "name", "", "a name to recognise the key by, such as its owner")
	cmd.Flags().StringVar(&req.ExpiresIn, "expires-in", "", `lifetime of the key, such as "90d" or "12h" (default: never expires)`)
	cmd.Flags().BoolVar(&req.ExchangeOnly, "exchange-only", false, "refuse the key at the edge: it only gets access tokens")
	cmd.Flags().StringVar(&req.RotateEvery, "rotate-every", "", `how often the key is to be rolled, such as "30d" (default: the integration's)`)
	asJSON := cmd.Flags().Bool("json", false, "print a JSON object")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if cmd.Flags().Changed("rotate-every") {
			if _, err := manage.CheckRotateEvery("rotate_every", req.RotateEvery); err != nil {
				return phrase(err)
			}
		}
		if req.Integration == "" {
			return fmt.Errorf("missing --integration ID (usage: %s)", cmd.UseLine())
		}
		if cmd.Flags().Changed("expires-in") && req.ExpiresIn == "" {
			req.ExpiresIn = " " // an explicit empty value is a mistake, not "never"
		}
		// Checked before any store is opened: a mistake costs no
		// connection.
		if _, err := manage.CheckKeyRequest(req); err != nil {
			return phrase(err)
		}
		return c.withManager(cmd, func(ctx context.Context, m *manage.Manager) error {
			created, err := m.CreateKey(ctx, req)
			if err != nil {
				return err
			}
			if *asJSON {
				return writeJSON(cmd.OutOrStdout(), created.JSON())
			}
			return writeCreatedKey(cmd.OutOrStdout(), created)
		})
	}
	return cmd
}

// keysList is `keygate keys list [--integration ID] [--active] [--revoked]
// [--expired] [--max-key-age DURATION] [--json]`.
func (c *cli) keysList() *cobra.Command {
	cmd := newSubcommand("list [--integration ID] [--active] [--revoked] [--expired] [--max-key-age DURATION] [--json]",
		"List keys, without the keys themselves")
	cmd.Long = `List keys, oldest first, without the keys themselves; deleted keys are not
listed. The status filters combine: --active --expired lists both. With
--max-key-age (the gateway's max_key_age), the AGE column says "rotate soon"
for a key past 80% of it and "too old" for one past it, which the gateway
refuses as expired.`
	var q manage.KeyQuery
	cmd.Flags().StringVar(&q.Integration, "integration", "", "only the keys of this integration")
	cmd.Flags().BoolVar(&q.Active, "active", false, "only keys that work: neither revoked nor expired")
	cmd.Flags().BoolVar(&q.Revoked, "revoked", false, "only revoked keys")
	cmd.Flags().BoolVar(&q.Expired, "expired", false, "only expired keys")
	maxAge := cmd.Flags().String("max-key-age", "", `mark keys near or past this age, such as "90d"`)
	asJSON := cmd.Flags().Bool("json", false, "print a JSON array")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if cmd.Flags().Changed("integration") {
			if err := manage.CheckIntegrationID("integration", q.Integration); err != nil {
				return phrase(err)
			}
		}
		var age time.Duration
		if cmd.Flags().Changed("max-key-age") {
			d, err := manage.CheckLifetime("max_key_age", *maxAge, false)
			if err != nil {
				return phrase(err)
			}
			age = d
		}
		return c.withManager(cmd, func(ctx context.Context, m *manage.Manager) error {
			keys, err := m.ListKeys(ctx, q)
			if err != nil {
				return err
			}
			now := c.now()
			if *asJSON {
				return writeJSON(cmd.OutOrStdout(), manage.KeyViews(keys, now, age))
			}
			return writeKeysTable(cmd.OutOrStdout(), keys, now, age)
		})
	}
	return cmd
}

// keysShow is `keygate keys show KEY_ID [--json]`.
func (c *cli) keysShow() *cobra.Command {
	return c.keyRecordCommand("show", "Show a key's record, without the key itself", "print a JSON object",
		(*manage.Manager).ShowKey, func(w io.Writer, k keystore.Key) error { return writeKeyDetails(w, k, c.now()) }, false)
}

// keysRevoke is `keygate keys revoke KEY_ID [--json]`.
func (c *cli) keysRevoke() *cobra.Command {
	return c.keyRecordCommand("revoke", "Revoke a key: the gateway refuses it from then on",
		"print the revoked key's record as a JSON object", (*manage.Manager).RevokeKey, writeRevokedKey, true)
}

// keysDelete is `keygate keys delete KEY_ID [--json]`.
func (c *cli) keysDelete() *cobra.Command {
	return c.keyRecordCommand("delete", "Delete a key: the gateway refuses it, and it is gone from listings",
		"print the deleted key's record as a JSON object", (*manage.Manager).DeleteKey, writeDeletedKey, true)
}

// keyRecordCommand returns `keygate keys <name> KEY_ID [--json]`, which
// runs op on the key and prints the record it returns, as JSON or with
// write. With confirm, the command takes --wait and --no-wait and
// returns once every live gateway refuses the key (see confirm.go).
func (c *cli) keyRecordCommand(name, short, jsonHelp string,
	op func(m *manage.Manager, ctx context.Context, id string) (keystore.Key, error),
	write func(w io.Writer, k keystore.Key) error, confirm bool) *cobra.Command {
	use := name + " KEY_ID [--json]"
	if confirm {
		use = name + " KEY_ID [--wait DURATION | --no-wait] [--json]"
	}
	cmd := newSubcommand(use, short, "KEY_ID")
	asJSON := cmd.Flags().Bool("json", false, jsonHelp)
	wait := &waitFlags{noWait: true}
	if confirm {
		wait = addWaitFlags(cmd)
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := wait.check(); err != nil {
			return err
		}
		return c.keyCommand(cmd, args[0], func(ctx context.Context, m *manage.Manager) error {
			k, err := op(m, ctx, args[0])
			if err != nil {
				return err
			}
			done, err := wait.confirm(ctx, m)
			if err != nil {
				return err
			}
			return confirmedOutput(cmd.OutOrStdout(), *asJSON, manage.NewKeyView(k, c.now(), 0),
				func(w io.Writer) error { return write(w, k) }, done)
		})
	}
	return cmd
}

// keysRotate is `keygate keys rotate KEY_ID --grace DURATION [--json]`.
func (c *cli) keysRotate() *cobra.Command {
	cmd := newSubcommand("rotate KEY_ID --grace DURATION [--wait DURATION | --no-wait] [--json]",
		"Replace a key with a new one; the old one keeps working for a grace period", "KEY_ID")
	cmd.Long = `Create a new key with the same name and integration as KEY_ID, print it once,
and make the old key expire after the grace period ("1h", "7d"; "0" ends it at
once), in one transaction. Move every client to the new key within the grace
period: "keys show KEY_ID" tells when the old key was last used. With
--grace 0 it returns once every live gateway refuses the old key, as "keys
revoke" does.`
	grace := cmd.Flags().String("grace", "", `how long the old key keeps working, such as "1h" or "7d"; "0" ends it now`)
	asJSON := cmd.Flags().Bool("json", false, "print a JSON object")
	wait := addWaitFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if !cmd.Flags().Changed("grace") {
			return fmt.Errorf("missing --grace DURATION (usage: %s)", cmd.UseLine())
		}
		if _, err := manage.CheckLifetime("grace", *grace, true); err != nil {
			return phrase(err)
		}
		if err := wait.check(); err != nil {
			return err
		}
		return c.keyCommand(cmd, args[0], func(ctx context.Context, m *manage.Manager) error {
			r, err := m.RotateKey(ctx, args[0], *grace)
			if err != nil {
				return err
			}
			var done *confirmed
			if r.EndsNow() { // the old key ends now: confirm it
				if done, err = wait.confirm(ctx, m); err != nil {
					return err
				}
			}
			return confirmedOutput(cmd.OutOrStdout(), *asJSON, r.JSON(),
				func(w io.Writer) error { return writeRotatedKey(w, r) }, done)
		})
	}
	return cmd
}

// keyCommand checks a KEY_ID argument before opening the store, then runs
// fn with a manager.
func (c *cli) keyCommand(cmd *cobra.Command, id string, fn func(ctx context.Context, m *manage.Manager) error) error {
	if err := manage.CheckKeyID(id, binary(cmd)); err != nil {
		return phrase(err)
	}
	return c.withManager(cmd, fn)
}
