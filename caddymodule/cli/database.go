package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keygate/keygate/caddymodule"
	"github.com/keygate/keygate/keystore"
)

// flagDatabase names the key store on the command line.
const flagDatabase = "database"

// databaseURL returns --database, else $KEYGATE_DATABASE_URL, else the
// default embedded store, which the gateway uses too when it is given no
// database.
func (c *cli) databaseURL(cmd *cobra.Command) (string, error) {
	u, err := cmd.Flags().GetString(flagDatabase)
	if err != nil {
		return "", fmt.Errorf("reading --%s: %w", flagDatabase, err)
	}
	if u = strings.TrimSpace(u); u == "" {
		u = c.getenv(caddymodule.EnvDatabaseURL)
	}
	u, _, err = caddymodule.ResolveDatabaseURL(u)
	return u, err
}

// withStore opens the key store named on cmd's command line, runs fn with
// it and closes it. Whatever error comes back has any database password
// removed.
func (c *cli) withStore(cmd *cobra.Command, fn func(ctx context.Context, s keystore.Store) error) error {
	dbURL, err := c.databaseURL(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), commandTimeout)
	defer cancel()
	s, err := c.openStore(ctx, dbURL)
	if err != nil {
		what := "cannot open the key store"
		if unavailable(err) {
			what = "cannot reach the key store"
		}
		return keystore.Redact(storeError(what, dbURL, err), dbURL)
	}
	defer s.Close()
	if err := fn(ctx, s); err != nil {
		if unavailable(err) {
			err = storeError("cannot reach the key store", dbURL, err)
		}
		return keystore.Redact(err, dbURL)
	}
	return nil
}

// unavailable reports whether err means the key store did not answer.
func unavailable(err error) bool {
	return errors.Is(err, keystore.ErrStoreUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

// storeError explains a key store failure and what to check.
func storeError(what, databaseURL string, err error) error {
	check := ""
	switch loc, perr := keystore.ParseURL(databaseURL); {
	case perr != nil:
	case loc.Path != "":
		check = " (without either, keygate uses sqlite:" + caddymodule.DefaultDatabasePath() + ")"
	default:
		check = ", and that the database is running and reachable"
	}
	return fmt.Errorf("%s%s: %w\ncheck --%s or %s%s",
		what, describeDatabase(databaseURL), err, flagDatabase, caddymodule.EnvDatabaseURL, check)
}

// describeDatabase names a database URL for messages, without its
// password; it says nothing for connection strings that are not URLs.
func describeDatabase(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return " at " + u.Redacted()
}
