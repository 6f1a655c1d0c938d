package integration_tests

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate/internal/pgtest"
)

// harness is one test's world: a fresh database, the keygate command line
// pointed at it, and every key the test made, so that whatever the
// processes print or log can be checked for leaks.
type harness struct {
	t     *testing.T
	dbURL string
	// env is added to the environment of every keygate process the
	// harness runs, gateways and command lines alike.
	env []string

	mu      sync.Mutex
	secrets []string
}

// newHarness gives t a fresh, empty database.
func newHarness(t *testing.T) *harness {
	t.Helper()
	requireBinary(t)
	return &harness{t: t, dbURL: pgtest.URL(t)}
}

// remember records a key that must never appear in any output or log.
func (h *harness) remember(key string) {
	if key == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.secrets = append(h.secrets, key)
}

// leaks reports whether text holds any remembered key or a part of its
// secret.
func (h *harness) leaks(text string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return containsSecret(text, h.secrets)
}

// execSQL runs one statement on the test's database, as an operator with
// psql would.
func (h *harness) execSQL(sql string, args ...any) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, h.dbURL)
	if err != nil {
		h.t.Fatalf("connecting to the test database: %v", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		h.t.Fatalf("running %q: %v", sql, err)
	}
}

// shown returns text for a test's failure message, or a note saying it is
// withheld when it holds a remembered key.
func (h *harness) shown(text string) string {
	if h.leaks(text) {
		return "(withheld: it holds a key)"
	}
	return text
}
