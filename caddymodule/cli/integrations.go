package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/keygate/keygate/manage"
)

// setupIntegrations configures `keygate integrations` and its subcommands.
func (c *cli) setupIntegrations(cmd *cobra.Command) {
	c.setupGroup(cmd, c.integrationsAdd(), c.integrationsList(), c.integrationsSetURL(), c.integrationsSetRotation(), c.integrationsRemove())
}

// integrationsAdd is `keygate integrations add ID --base-url URL [--json]`.
func (c *cli) integrationsAdd() *cobra.Command {
	cmd := newSubcommand("add ID --base-url URL [--rotate-every DURATION] [--rotate-grace DURATION] [--json]", "Add an integration reached at a base URL", "integration ID")
	cmd.Long = `Add an integration: ID is 1 to 63 lowercase letters, digits, '-' or '_',
starting with a letter or digit; URL is http(s)://host[:port][/path], without
credentials, query or fragment. A request to the gateway for /p is proxied to
URL/p.`
	cmd.Annotations = map[string]string{annotationCreatesStore: "yes"}
	baseURL := cmd.Flags().String("base-url", "", "the integration's base URL, http(s)://host[:port][/path]")
	every, grace := rotationFlags(cmd)
	asJSON := cmd.Flags().Bool("json", false, "print the integration as a JSON object")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		id := args[0]
		if err := checkRotationFlags(*every, *grace); err != nil {
			return err
		}
		if *baseURL == "" && manage.CheckIntegrationID("id", id) == nil {
			return fmt.Errorf("missing --base-url URL (usage: %s)", cmd.UseLine())
		}
		if err := manage.CheckIntegration(id, *baseURL); err != nil {
			return phrase(err)
		}
		return c.withManager(cmd, func(ctx context.Context, m *manage.Manager) error {
			in, err := m.AddIntegration(ctx, id, *baseURL, *every, *grace)
			if err != nil {
				return err
			}
			if *asJSON {
				return writeJSON(cmd.OutOrStdout(), manage.IntegrationJSON(in))
			}
			return writeIntegrationAdded(cmd.OutOrStdout(), in)
		})
	}
	return cmd
}

// integrationsList is `keygate integrations list [--json]`.
func (c *cli) integrationsList() *cobra.Command {
	cmd := newSubcommand("list [--json]", "List integrations")
	asJSON := cmd.Flags().Bool("json", false, "print a JSON array")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return c.withManager(cmd, func(ctx context.Context, m *manage.Manager) error {
			ins, err := m.ListIntegrations(ctx)
			if err != nil {
				return err
			}
			if *asJSON {
				return writeJSON(cmd.OutOrStdout(), manage.IntegrationsJSON(ins))
			}
			return writeIntegrationsTable(cmd.OutOrStdout(), ins)
		})
	}
	return cmd
}

// integrationsSetURL is `keygate integrations set-url ID URL [--json]`.
func (c *cli) integrationsSetURL() *cobra.Command {
	cmd := newSubcommand("set-url ID URL [--json]", "Change the base URL of an integration", "integration ID", "URL")
	cmd.Long = `Change the base URL an integration is reached at. Every gateway following the
database proxies to the new URL within milliseconds; its keys stay valid.`
	asJSON := cmd.Flags().Bool("json", false, "print the integration as a JSON object")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := manage.CheckIntegration(args[0], args[1]); err != nil {
			return phrase(err)
		}
		return c.withManager(cmd, func(ctx context.Context, m *manage.Manager) error {
			in, err := m.SetIntegrationURL(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			if *asJSON {
				return writeJSON(cmd.OutOrStdout(), manage.IntegrationJSON(in))
			}
			return writeText(cmd.OutOrStdout(), func(p *printer) {
				p.linef("Integration %s is now reached at %s.", in.ID, in.BaseURL)
			})
		})
	}
	return cmd
}

// integrationsRemove is `keygate integrations remove ID [--force] [--json]`.
func (c *cli) integrationsRemove() *cobra.Command {
	cmd := newSubcommand("remove ID [--force] [--wait DURATION | --no-wait] [--json]", "Remove an integration and its keys", "integration ID")
	cmd.Long = `Remove an integration, and delete every key of it for good. It is refused
while the integration has active keys (neither revoked nor expired), unless
--force is given. It returns once every live gateway refuses its keys.`
	force := cmd.Flags().Bool("force", false, "remove it even though it has active keys, deleting them")
	asJSON := cmd.Flags().Bool("json", false, `print {"id": ..., "keys_deleted": N}`)
	wait := addWaitFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		id := args[0]
		if err := manage.CheckIntegrationID("id", id); err != nil {
			return phrase(err)
		}
		if err := wait.check(); err != nil {
			return err
		}
		return c.withManager(cmd, func(ctx context.Context, m *manage.Manager) error {
			n, err := m.RemoveIntegration(ctx, id, *force)
			if err != nil {
				return err
			}
			done, err := wait.confirm(ctx, m)
			if err != nil {
				return err
			}
			return confirmedOutput(cmd.OutOrStdout(), *asJSON, manage.RemovedIntegration{ID: id, KeysDeleted: n},
				func(w io.Writer) error {
					return writeText(w, func(p *printer) { p.linef("Removed integration %s and deleted its %d keys.", id, n) })
				}, done)
		})
	}
	return cmd
}
