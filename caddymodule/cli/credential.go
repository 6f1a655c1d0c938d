package cli

import (
	"context"
	"fmt"
	"net/http"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/keygate/keygate/internal/credential"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "credential",
		Usage: "rotate|token --url URL --key-file FILE",
		Short: "Roll a key kept in a file, or print a fresh access token for it",
		Long: `
For the calling system: its key is kept in FILE (alone on one line, mode 0600).

"credential rotate" asks the gateway's keygate_rotate endpoint at URL whether
the key is due to be rolled and, when it is, rolls it and replaces FILE with
the new key atomically. Until then it changes nothing, so it is safe to run
often, from cron or a systemd timer; runs that overlap roll the key once.

"credential token" prints an access token from the keygate_token endpoint at
URL, cached in FILE.token (mode 0600) and renewed before it expires: for
scripts and credential_process-style hooks.`,
		CobraFunc: setupCredential,
	})
}

// credentialTimeout bounds one credential command.
const credentialTimeout = 30 * time.Second

func setupCredential(cmd *cobra.Command) {
	cmd.AddCommand(credentialCommand("rotate", "Roll the key in FILE when it is due",
		func(ctx context.Context, c credential.Client, file string, cmd *cobra.Command) error {
			res, err := c.Rotate(ctx, file)
			if err != nil {
				return err
			}
			switch {
			case res.Rotated:
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "rolled: %s now holds key %s\n", file, res.KeyID)
			case res.Due.IsZero():
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "not due: key %s has no rotation period\n", res.KeyID)
			default:
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "not due: key %s is due at %s\n", res.KeyID, res.Due.UTC().Format(time.RFC3339))
			}
			return err
		}))
	cmd.AddCommand(credentialCommand("token", "Print a fresh access token for the key in FILE",
		func(ctx context.Context, c credential.Client, file string, cmd *cobra.Command) error {
			tok, err := c.Token(ctx, file)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		}))
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("missing subcommand: want rotate or token (see '%s --help')", cmd.CommandPath())
		}
		return fmt.Errorf("unknown subcommand %q: want rotate or token (see '%s --help')", args[0], cmd.CommandPath())
	}
}

// credentialCommand is `keygate credential NAME --url URL --key-file FILE`.
func credentialCommand(name, short string, run func(context.Context, credential.Client, string, *cobra.Command) error) *cobra.Command {
	cmd := newSubcommand(name+" --url URL --key-file FILE", short)
	u := cmd.Flags().String("url", "", "the gateway endpoint: a keygate_rotate route for rotate, a keygate_token route for token")
	file := cmd.Flags().String("key-file", "", "the file that holds the key, alone on one line")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		switch {
		case *u == "":
			return fmt.Errorf("missing --url URL (usage: %s)", cmd.UseLine())
		case *file == "":
			return fmt.Errorf("missing --key-file FILE (usage: %s)", cmd.UseLine())
		}
		if err := credential.CheckURL(*u); err != nil {
			return fmt.Errorf("invalid --url: %w", err)
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), credentialTimeout)
		defer cancel()
		c := credential.Client{HTTP: &http.Client{Timeout: credentialTimeout}, URL: *u}
		return run(ctx, c, *file, cmd)
	}
	return cmd
}
