package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
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
	if err := checkStoreFile(cmd, dbURL); err != nil {
		return storeError("cannot open the key store", dbURL, err)
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

// annotationCreatesStore marks the one command that may create an embedded
// store's file: `integrations add`, the first step on a new key store.
const annotationCreatesStore = "keygate.creates-store"

// checkStoreFile fails when dbURL names an SQLite file that does not exist
// and cmd is not the command that starts a new store, or when the file's
// -wal or -shm is there without it. A missing file is more often one that
// a gateway had open and that was removed or moved than a new store: a
// command that silently made an empty one there would answer "unknown
// key" to `keys revoke` while the gateway goes on accepting the key.
func checkStoreFile(cmd *cobra.Command, dbURL string) error {
	loc, err := keystore.ParseURL(dbURL)
	if err != nil || loc.Path == "" {
		return nil // not an SQLite file; openStore says what is wrong with the URL
	}
	if _, err := os.Stat(loc.Path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if di, err := os.Stat(filepath.Dir(loc.Path)); err != nil || !di.IsDir() {
		return nil // openStore says what is wrong with the directory
	}
	for _, sidecar := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(loc.Path + sidecar); err == nil {
			return fmt.Errorf("the SQLite database %s does not exist, but %s does: the database was removed or moved "+
				"while a gateway had it open, or one stopped uncleanly; put the file back (gateways refuse every "+
				"request until then) rather than start a new, empty key store next to it", loc.Path, loc.Path+sidecar)
		}
	}
	if cmd.Annotations[annotationCreatesStore] == "" {
		return fmt.Errorf("the SQLite database %s does not exist: if a gateway uses it, it was removed or moved, "+
			"so put it back (gateways refuse every request until then); to start a new key store there, "+
			"add its first integration with '%s integrations add ID --base-url URL'", loc.Path, binary(cmd))
	}
	return nil
}
