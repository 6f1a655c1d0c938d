package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/manage"
)

// rotationFlags adds --rotate-every and --rotate-grace to cmd.
func rotationFlags(cmd *cobra.Command) (every, grace *string) {
	every = cmd.Flags().String("rotate-every", "", `how often its keys are to be rolled by default, such as "30d" ("0": never)`)
	grace = cmd.Flags().String("rotate-grace", "", `how long a key its calling system rolls keeps working, such as "1h" (default 1h)`)
	return every, grace
}

// checkRotationFlags checks the flags before any store is opened.
func checkRotationFlags(every, grace string) error {
	if _, err := manage.CheckRotation(every, grace); err != nil {
		return phrase(err)
	}
	return nil
}

// integrationsSetRotation is `keygate integrations set-rotation ID
// --rotate-every DURATION [--rotate-grace DURATION] [--json]`.
func (c *cli) integrationsSetRotation() *cobra.Command {
	cmd := newSubcommand("set-rotation ID --rotate-every DURATION [--rotate-grace DURATION] [--json]",
		"Set how often the integration's keys are rolled by default", "integration ID")
	cmd.Long = `Set the default rotation period of the integration's keys (a key's own
--rotate-every wins), shown by 'keys list' as ROTATE DUE, and the grace of a
key that its calling system rolls itself through keygate_rotate ('keygate
credential rotate'). "0" turns the default period off.`
	every, grace := rotationFlags(cmd)
	asJSON := cmd.Flags().Bool("json", false, "print the integration as a JSON object")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if !cmd.Flags().Changed("rotate-every") {
			return fmt.Errorf("missing --rotate-every DURATION (usage: %s)", cmd.UseLine())
		}
		if err := manage.CheckIntegrationID("id", args[0]); err != nil {
			return phrase(err)
		}
		if err := checkRotationFlags(*every, *grace); err != nil {
			return err
		}
		return c.withManager(cmd, func(ctx context.Context, m *manage.Manager) error {
			in, err := m.SetIntegrationRotation(ctx, args[0], *every, *grace)
			if err != nil {
				return err
			}
			if *asJSON {
				return writeJSON(cmd.OutOrStdout(), manage.IntegrationJSON(in))
			}
			return writeRotationSet(cmd, in)
		})
	}
	return cmd
}

func writeRotationSet(cmd *cobra.Command, in keystore.Integration) error {
	every, grace := manage.RotationInEffect(in.Rotation)
	_, err := fmt.Fprintf(cmd.OutOrStdout(), "Integration %s: keys are rolled every %s by default; a key rolled by its holder keeps working %s.\n", in.ID, every, grace)
	return err
}
