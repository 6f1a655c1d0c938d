// Package cli is keygate's command line: the management commands,
// registered with Caddy's, run manage's operations and phrase their
// errors with their flags:
//
//	keygate integrations add ID --base-url URL [--json]
//	keygate integrations list [--json]
//	keygate integrations set-url ID URL [--json]
//	keygate integrations remove ID [--force] [--wait DURATION | --no-wait] [--json]
//	keygate keys create --integration ID --name NAME [--expires-in DURATION] [--json]
//	keygate keys list [--integration ID] [--active] [--revoked] [--expired] [--max-key-age DURATION] [--json]
//	keygate keys show KEY_ID [--json]
//	keygate keys revoke KEY_ID [--wait DURATION | --no-wait] [--json]
//	keygate keys rotate KEY_ID --grace DURATION [--wait DURATION | --no-wait] [--json]
//	keygate keys delete KEY_ID [--wait DURATION | --no-wait] [--json]
//	keygate gateways list [--json]
//	keygate gateways wait [SEQ] [--wait DURATION] [--json]
//
// The commands that change something write an audit entry (see manage.Audit)
// to standard error, in the name of the OS user.
// Every one of them takes --database URL, else KEYGATE_DATABASE_URL, else
// uses the embedded default store (see caddymodule.ResolveDatabaseURL).
// Results go to standard output, errors to standard error with a non-zero
// exit status.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/keygate/keygate/caddymodule"
	"github.com/keygate/keygate/keystore"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "integrations",
		Usage: "add|list|set-url|remove",
		Short: "Manage the integrations that keys give access to",
		Long: `
An integration is a service behind the gateway, reached at its base URL
(scheme://host[:port][/path]). Every key belongs to one integration.

` + caddymodule.DatabaseHelp,
		CobraFunc: defaultCLI.setupIntegrations,
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "keys",
		Usage: "create|list|show|revoke|rotate|delete",
		Short: "Create, list, show, revoke, rotate and delete Access Keys",
		Long: `
An Access Key lets a client call one integration through the gateway with
"Authorization: Bearer <key>". The key is shown once, when it is created; only
its hash is stored. Every key has a public id (kid_...) that is safe to print,
log and pass to "keys revoke", "keys rotate" and the other commands.

` + caddymodule.DatabaseHelp,
		CobraFunc: defaultCLI.setupKeys,
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "gateways",
		Usage: "list|wait",
		Short: "Show the gateways that follow the key store, and wait for them to apply a change",
		Long: `
Every gateway instance records itself in the key store (table
keygate_gateways) when it applies changes and on a one-second heartbeat:
its id, host, version, start, the last change feed sequence it applied and
when it was last seen. An instance is live while it was seen within its
stale_ttl (plus a second); past that it is stale, and by then it refuses
every key it cannot read again from the store, so only live instances have
to confirm a revocation.

` + caddymodule.DatabaseHelp,
		CobraFunc: defaultCLI.setupGateways,
	})
}

// cli holds what the management commands depend on, so that tests can
// replace the store, the environment, the clock and the randomness.
type cli struct {
	// openStore connects to the key store at databaseURL.
	openStore func(ctx context.Context, databaseURL string) (keystore.Store, error)
	// getenv reads the environment.
	getenv func(string) string
	// now is the clock.
	now func() time.Time
	// random feeds key and key id generation; nil means crypto/rand.
	random io.Reader
	// auditLogger returns the logger of the audit log (see audit.go);
	// nil: no audit log.
	auditLogger func() *zap.Logger
}

// defaultCLI is the command line as the keygate binary runs it.
var defaultCLI = &cli{
	openStore: openStore,
	getenv:    os.Getenv,
	now:       time.Now,
	// Made on first use: commands that change nothing log nothing.
	auditLogger: sync.OnceValue(newAuditLogger),
}

// commandTimeout bounds one management command, connecting and migrating
// the database included.
const commandTimeout = 30 * time.Second

// setupGroup makes cmd a group of subcommands that share --database and
// that fails clearly on a missing or unknown subcommand.
func (c *cli) setupGroup(cmd *cobra.Command, subs ...*cobra.Command) {
	cmd.PersistentFlags().String(flagDatabase, "",
		"key store database URL (default: $"+caddymodule.EnvDatabaseURL+", else the embedded SQLite file)")
	cmd.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w (see '%s --help')", err, cmd.CommandPath())
	})
	cmd.AddCommand(subs...)
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.Name()
	}
	want := strings.Join(names, ", ")
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("missing subcommand: want one of %s (see '%s --help')", want, cmd.CommandPath())
		}
		return fmt.Errorf("unknown subcommand %q: want one of %s (see '%s --help')", args[0], want, cmd.CommandPath())
	}
}

// positional returns an argument validator that wants exactly the named
// arguments. It never echoes an argument back: a user may have pasted a
// key by mistake.
func positional(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return fmt.Errorf("missing %s (usage: %s)", names[len(args)], cmd.UseLine())
		case len(args) > len(names):
			return fmt.Errorf("too many arguments: got %d, want %d (usage: %s)", len(args), len(names), cmd.UseLine())
		}
		return nil
	}
}

// newSubcommand returns a subcommand with the given usage line (its name
// first) that takes exactly the named positional arguments.
func newSubcommand(use, short string, args ...string) *cobra.Command {
	return &cobra.Command{
		Use:                   use,
		Short:                 short,
		Args:                  positional(args...),
		DisableFlagsInUseLine: true,
	}
}

// openStore opens the key store at databaseURL.
func openStore(ctx context.Context, databaseURL string) (keystore.Store, error) {
	s, _, err := keystore.Open(ctx, databaseURL)
	return s, err
}
