package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/keygate/keygate/keystore"
)

// SQLSTATE codes and constraint names the store maps to keystore errors.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"

	integrationsPkey   = "keygate_integrations_pkey"
	keysPkey           = "keygate_keys_pkey"
	keysHashKey        = "keygate_keys_key_hash_key"
	keysIntegrationKey = "keygate_keys_integration_id_fkey"
)

// wrapErr says what was being done (op) and maps err to the keystore
// errors callers test with errors.Is.
func wrapErr(op string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, keystore.ErrNotFound)
	}
	if errIsDomain(err) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == uniqueViolation && pgErr.ConstraintName == integrationsPkey:
			return fmt.Errorf("%s: %w", op, keystore.ErrIntegrationExists)
		case pgErr.Code == uniqueViolation && pgErr.ConstraintName == keysPkey:
			return fmt.Errorf("%s: a key with this id already exists: %w", op, err)
		case pgErr.Code == uniqueViolation && pgErr.ConstraintName == keysHashKey:
			return fmt.Errorf("%s: a key with this hash already exists: %w", op, err)
		case pgErr.Code == foreignKeyViolation && pgErr.ConstraintName == keysIntegrationKey:
			return fmt.Errorf("%s: %w", op, keystore.ErrUnknownIntegration)
		}
	}
	if unavailable(err) {
		return fmt.Errorf("%s: %w: %w", op, keystore.ErrStoreUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// unavailable reports whether err means that the server did not answer:
// it could not be reached, the connection broke, it is shutting down or
// starting, out of connections, or it did not answer in time. Anything
// else is an answer — an SQL error — or a bug, and the server is up.
func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false // the caller gave up; the server may be fine
	}
	if errors.Is(err, pgx.ErrNoRows) || errIsDomain(err) {
		return false // an answer: nothing matched, or not as wanted
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return serverGoingAway(pgErr)
	}
	var scanErr pgx.ScanArgError
	return !errors.As(err, &scanErr)
}

// connectionLost reports whether err means that the connection it came
// from is gone — the server restarted or the network broke — so that the
// pool's other connections probably are too, as opposed to a server that
// is merely slow or busy.
func connectionLost(err error) bool {
	if !unavailable(err) || pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// connection exceptions, and shutdowns: admin_shutdown,
		// crash_shutdown, cannot_connect_now...
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P")
	}
	return true
}

// serverGoingAway reports whether a server error says it cannot serve us
// now: connection exceptions (class 08), insufficient resources such as
// too many connections (53), or operator intervention such as a shutdown
// or a statement timeout (57).
func serverGoingAway(e *pgconn.PgError) bool {
	return strings.HasPrefix(e.Code, "08") || strings.HasPrefix(e.Code, "53") || strings.HasPrefix(e.Code, "57")
}

// redactParseError returns the reason a connection string did not parse,
// without the string: pgconn masks passwords in it only on a best-effort
// basis, and a malformed URL can defeat that.
func redactParseError(err error) error {
	var pce *pgconn.ParseConfigError
	if !errors.As(err, &pce) {
		return err
	}
	// The message is "cannot parse `<string>`: <reason>"; the reason is
	// what follows the last "`: ", wherever the string had one.
	msg := pce.Error()
	if i := strings.LastIndex(msg, "`: "); i >= 0 {
		return errors.New(msg[i+len("`: "):])
	}
	return errors.New("malformed connection string")
}
