package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keygate/keygate/keystore"
)

// Where the management commands find the key store.
const (
	flagDatabase   = "database"
	envDatabaseURL = "KEYGATE_DATABASE_URL"
)

// databaseURL returns --database, else $KEYGATE_DATABASE_URL, else the
// default embedded store, which the gateway uses too when it is given no
// database.
func (c *cli) databaseURL(cmd *cobra.Command) (string, error) {
	u, err := cmd.Flags().GetString(flagDatabase)
	if err != nil {
		return "", fmt.Errorf("reading --%s: %w", flagDatabase, err)
	}
	if u = strings.TrimSpace(u); u == "" {
		u = c.getenv(envDatabaseURL)
	}
	u, _, err = resolveDatabaseURL(u)
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
		return redact(storeError(what, dbURL, err), dbURL)
	}
	defer s.Close()
	if err := fn(ctx, s); err != nil {
		if unavailable(err) {
			err = storeError("cannot reach the key store", dbURL, err)
		}
		return redact(err, dbURL)
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
	switch loc, perr := parseDatabaseURL(databaseURL); {
	case perr != nil:
	case loc.kind == kindSQLite:
		check = " (without either, keygate uses sqlite:" + defaultDatabasePath() + ")"
	default:
		check = ", and that the database is running and reachable"
	}
	return fmt.Errorf("%s%s: %w\ncheck --%s or %s%s",
		what, describeDatabase(databaseURL), err, flagDatabase, envDatabaseURL, check)
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

// redacted stands for a password in messages.
const redacted = "xxxxx"

// keywordPassword finds password=... in key=value connection strings.
var keywordPassword = regexp.MustCompile(`(?i)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// redact returns err with every occurrence of databaseURL's password
// replaced, wherever a driver may have quoted it.
func redact(err error, databaseURL string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var secrets []string
	if u, perr := url.Parse(databaseURL); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			secrets = append(secrets, pw, url.QueryEscape(pw), url.PathEscape(pw))
		}
		if pw := u.Query().Get("password"); pw != "" {
			secrets = append(secrets, pw, url.QueryEscape(pw))
		}
	}
	for _, m := range keywordPassword.FindAllStringSubmatch(databaseURL, -1) {
		secrets = append(secrets, m[1], strings.Trim(m[1], "'"))
	}
	if len(secrets) == 0 {
		return err
	}
	for _, s := range secrets {
		msg = replaceDelimited(msg, s, redacted)
	}
	return &redactedError{msg: msg, err: err}
}

// replaceDelimited replaces every occurrence of old in s. An old shorter
// than 8 bytes is only replaced where it is not part of a longer run of
// letters and digits, so that a short password does not garble the words of
// the message around it.
func replaceDelimited(s, old, repl string) string {
	if old == "" {
		return s
	}
	if len(old) >= 8 {
		return strings.ReplaceAll(s, old, repl)
	}
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(old)
		before, after := i > 0 && isAlnum(s[i-1]) && isAlnum(old[0]),
			end < len(s) && isAlnum(s[end]) && isAlnum(old[len(old)-1])
		b.WriteString(s[:i])
		if before || after {
			b.WriteString(old)
		} else {
			b.WriteString(repl)
		}
		s = s[end:]
	}
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// redactedError is an error whose message had secrets removed; it still
// wraps the original for errors.Is.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

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
	loc, err := parseDatabaseURL(dbURL)
	if err != nil || loc.kind != kindSQLite {
		return nil // openStore says what is wrong with the URL
	}
	if _, err := os.Stat(loc.path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if di, err := os.Stat(filepath.Dir(loc.path)); err != nil || !di.IsDir() {
		return nil // openStore says what is wrong with the directory
	}
	for _, sidecar := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(loc.path + sidecar); err == nil {
			return fmt.Errorf("the SQLite database %s does not exist, but %s does: the database was removed or moved "+
				"while a gateway had it open, or one stopped uncleanly; put the file back (gateways refuse every "+
				"request until then) rather than start a new, empty key store next to it", loc.path, loc.path+sidecar)
		}
	}
	if cmd.Annotations[annotationCreatesStore] == "" {
		return fmt.Errorf("the SQLite database %s does not exist: if a gateway uses it, it was removed or moved, "+
			"so put it back (gateways refuse every request until then); to start a new key store there, "+
			"add its first integration with '%s integrations add ID --base-url URL'", loc.path, binary(cmd))
	}
	return nil
}
