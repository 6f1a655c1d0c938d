package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/keygate/keygate/keystore"
)

// cliFakeStore is an in-memory keystore.Store for testing the commands'
// wiring; the real store is tested against PostgreSQL in its own package
// and the binary in integration_tests.
type cliFakeStore struct {
	// Store is nil: the lifecycle methods, which these tests do not call,
	// are tested on a real SQLite store (see command_lifecycle_test.go).
	keystore.Store
	integrations []keystore.Integration
	keys         []keystore.NewKey
	err          error // returned by every method when set
	closed       bool
}

func (s *cliFakeStore) LookupCredential(context.Context, keystore.Hash) (keystore.Credential, error) {
	return keystore.Credential{}, keystore.ErrNotFound
}

func (s *cliFakeStore) CreateIntegration(_ context.Context, in keystore.Integration) error {
	if s.err != nil {
		return s.err
	}
	for _, have := range s.integrations {
		if have.ID == in.ID {
			return fmt.Errorf("adding %s: %w", in.ID, keystore.ErrIntegrationExists)
		}
	}
	s.integrations = append(s.integrations, in)
	return nil
}

func (s *cliFakeStore) ListIntegrations(context.Context) ([]keystore.Integration, error) {
	return s.integrations, s.err
}

func (s *cliFakeStore) CreateKey(_ context.Context, k keystore.NewKey) error {
	if s.err != nil {
		return s.err
	}
	for _, in := range s.integrations {
		if in.ID == k.IntegrationID {
			s.keys = append(s.keys, k)
			return nil
		}
	}
	return fmt.Errorf("creating key: %w", keystore.ErrUnknownIntegration)
}

func (s *cliFakeStore) ListKeys(_ context.Context, f keystore.KeyFilter) ([]keystore.Key, error) {
	var out []keystore.Key
	for _, k := range s.keys {
		if f.IntegrationID == "" || f.IntegrationID == k.IntegrationID {
			out = append(out, k.Key)
		}
	}
	return out, s.err
}

func (s *cliFakeStore) RevokeKey(_ context.Context, id string, at time.Time) (keystore.Key, error) {
	if s.err != nil {
		return keystore.Key{}, s.err
	}
	for i := range s.keys {
		if k := &s.keys[i]; k.ID == id {
			if k.RevokedAt != nil {
				return k.Key, fmt.Errorf("revoking %s: %w", id, keystore.ErrAlreadyRevoked)
			}
			k.RevokedAt = &at
			return k.Key, nil
		}
	}
	return keystore.Key{}, fmt.Errorf("revoking %s: %w", id, keystore.ErrNotFound)
}

func (s *cliFakeStore) Close() { s.closed = true }

// cliTestNow is the fixed clock of these tests.
var cliTestNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// newTestCLI returns a cli on store with a fixed clock; the database URL
// comes from env.
func newTestCLI(store *cliFakeStore, env map[string]string) *cli {
	return &cli{
		openStore: func(context.Context, string) (keystore.Store, error) { return store, nil },
		getenv:    func(k string) string { return env[k] },
		now:       func() time.Time { return cliTestNow },
	}
}

// execute runs the command line args against c as the binary would, and
// returns standard output and the error.
func executeCLI(t *testing.T, c *cli, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "keygate", SilenceUsage: true, SilenceErrors: true}
	integrations := &cobra.Command{Use: "integrations"}
	c.setupIntegrations(integrations)
	keys := &cobra.Command{Use: "keys"}
	c.setupKeys(keys)
	root.AddCommand(integrations, keys)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

var cliTestEnv = map[string]string{envDatabaseURL: "postgres://u:pw-secret-1@db/k"}

func TestCommandErrorsBeforeTheStore(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"keys"}, "missing subcommand"},
		{[]string{"keys", "rotate-all"}, `unknown subcommand "rotate-all"`},
		{[]string{"integrations", "add"}, "missing integration ID"},
		{[]string{"integrations", "add", "a", "b", "--base-url", "http://x"}, "too many arguments"},
		{[]string{"integrations", "add", "Bad_ID", "--base-url", "http://x"}, `invalid integration id "Bad_ID"`},
		{[]string{"integrations", "add", "ok"}, "missing --base-url URL"},
		{[]string{"integrations", "add", "ok", "--base-url", "ftp://x"}, "scheme must be http or https"},
		{[]string{"integrations", "list", "extra"}, "too many arguments"},
		{[]string{"keys", "create", "--name", "n"}, "missing --integration ID"},
		{[]string{"keys", "create", "--integration", "a"}, "missing --name NAME"},
		{[]string{"keys", "create", "--integration", "a", "--name", "a\tb"}, "invalid --name: holds U+0009, an invisible or control character"},
		{[]string{"keys", "create", "--integration", "a", "--name", "invoice\u202etxt.exe"}, "invalid --name: holds U+202E"},
		{[]string{"keys", "create", "--integration", "a", "--name", "ali\u200bce"}, "invalid --name: holds U+200B"},
		{[]string{"keys", "create", "--integration", "a", "--name", "\ufeffbob"}, "invalid --name: holds U+FEFF"},
		{[]string{"keys", "create", "--integration", "a", "--name", "a\u2067b"}, "invalid --name: holds U+2067"},
		{[]string{"keys", "create", "--integration", "a", "--name", "n", "--expires-in", "1ns"}, `invalid --expires-in "1ns": a key must live at least 1s`},
		{[]string{"keys", "create", "--integration", "a", "--name", "n", "--expires-in", "999ms"}, `a key must live at least 1s`},
		{[]string{"keys", "create", "--integration", "a", "--name", "n", "--expires-in", "-1h"}, `invalid --expires-in "-1h"`},
		{[]string{"keys", "create", "--integration", "a", "--name", "n", "--expires-in", ""}, `invalid --expires-in ""`},
		{[]string{"keys", "create", "--integration", "a", "--name", "n", "--bogus"}, "unknown flag: --bogus (see 'keygate keys create --help')"},
		{[]string{"keys", "list", "--integration", "NOPE"}, `invalid integration id "NOPE"`},
		{[]string{"keys", "revoke"}, "missing KEY_ID"},
		{[]string{"keys", "revoke", "kid_a", "kid_b"}, "too many arguments"},
		{[]string{"keys", "revoke", "kg_notanid"}, "invalid key id"},
	}
	for _, tc := range cases {
		c := newTestCLI(nil, cliTestEnv)
		c.openStore = func(context.Context, string) (keystore.Store, error) {
			t.Errorf("%q opened the store", tc.args)
			return nil, errors.New("no store in this test")
		}
		_, err := executeCLI(t, c, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

func TestRevokeNeverEchoesTheArgument(t *testing.T) {
	const pasted = "kg_0123456789ABCDEFGHIJabcdefghij0123456789Aabcdef"
	_, err := executeCLI(t, newTestCLI(&cliFakeStore{}, cliTestEnv), "keys", "revoke", pasted)
	if err == nil || strings.Contains(err.Error(), pasted[3:13]) {
		t.Fatalf("revoke with a key as argument: error %v; want an error without the key", err)
	}
}

func TestDatabaseURLSources(t *testing.T) {
	var got string
	c := newTestCLI(nil, cliTestEnv)
	c.openStore = func(_ context.Context, u string) (keystore.Store, error) {
		got = u
		return &cliFakeStore{}, nil
	}
	if _, err := executeCLI(t, c, "integrations", "list"); err != nil || got != cliTestEnv[envDatabaseURL] {
		t.Errorf("from the environment: opened %q, err %v", got, err)
	}
	if _, err := executeCLI(t, c, "integrations", "list", "--database", "postgres://flag/db"); err != nil || got != "postgres://flag/db" {
		t.Errorf("--database over the environment: opened %q, err %v", got, err)
	}
	c.getenv = func(string) string { return "" }
	data := t.TempDir()
	t.Setenv("XDG_DATA_HOME", data)
	want := "sqlite:" + filepath.Join(data, "caddy", "keygate", "keygate.db")
	if _, err := executeCLI(t, c, "keys", "list"); err != nil || got != want {
		t.Errorf("without a database: opened %q, err %v; want the default store %s", got, err, want)
	}
	t.Setenv("XDG_DATA_HOME", filepath.Join(data, "caddy", "keygate", "keygate.db", "under-a-file"))
	if err := os.WriteFile(filepath.Join(data, "caddy", "keygate", "keygate.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := executeCLI(t, c, "keys", "list")
	if !errors.Is(err, errNoDatabase) || !strings.Contains(err.Error(), "--database") || !strings.Contains(err.Error(), envDatabaseURL) {
		t.Errorf("without a database nor a usable default: error %v, want one naming --database and %s", err, envDatabaseURL)
	}
}

func TestUnreachableStoreHidesPassword(t *testing.T) {
	c := newTestCLI(nil, cliTestEnv)
	c.openStore = func(_ context.Context, u string) (keystore.Store, error) {
		return nil, fmt.Errorf("connecting to %s: %w", u, keystore.ErrStoreUnavailable)
	}
	_, err := executeCLI(t, c, "keys", "list")
	if err == nil || strings.Contains(err.Error(), "pw-secret-1") || !strings.Contains(err.Error(), "cannot reach the key store at postgres://u:xxxxx@db/k") {
		t.Errorf("unreachable store: error %v, want a redacted 'cannot reach the key store'", err)
	}
	c.openStore = func(_ context.Context, u string) (keystore.Store, error) {
		return nil, errors.New("migrating: bad schema")
	}
	if _, err := executeCLI(t, c, "keys", "list"); err == nil || !strings.Contains(err.Error(), "cannot open the key store") {
		t.Errorf("store failing to open: error %v, want 'cannot open the key store'", err)
	}
	c.openStore = func(context.Context, string) (keystore.Store, error) {
		return &cliFakeStore{err: fmt.Errorf("querying: %w", keystore.ErrStoreUnavailable)}, nil
	}
	if _, err := executeCLI(t, c, "keys", "list"); !errors.Is(err, keystore.ErrStoreUnavailable) || !strings.Contains(err.Error(), "cannot reach the key store") {
		t.Errorf("store failing after open: error %v", err)
	}
}

func TestStoreErrorsSayWhatToDo(t *testing.T) {
	store := &cliFakeStore{}
	c := newTestCLI(store, cliTestEnv)
	mustRunCLI(t, c, "integrations", "add", "billing", "--base-url", "http://127.0.0.1:9/v1/")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"integrations", "add", "billing", "--base-url", "http://x"}, `integration "billing" already exists`},
		{[]string{"keys", "create", "--integration", "nope", "--name", "n"}, `unknown integration "nope": add it first with 'keygate integrations add nope --base-url URL'`},
		{[]string{"keys", "list", "--integration", "nope"}, `unknown integration "nope"`},
		{[]string{"keys", "revoke", "kid_00000000000000000000"}, "unknown key id kid_00000000000000000000"},
	}
	for _, tc := range cases {
		if _, err := executeCLI(t, c, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
	if got := store.integrations[0].BaseURL; got != "http://127.0.0.1:9/v1" {
		t.Errorf("stored base URL %q, want it normalised to http://127.0.0.1:9/v1", got)
	}
	if !store.closed {
		t.Error("the store was not closed")
	}
}

func TestCreateListRevoke(t *testing.T) {
	store := &cliFakeStore{}
	c := newTestCLI(store, cliTestEnv)
	mustRunCLI(t, c, "integrations", "add", "billing", "--base-url", "https://billing.example/v1")

	out := mustRunCLI(t, c, "keys", "create", "--integration", "billing", "--name", "ci bot", "--expires-in", "30d", "--json")
	var created map[string]any
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("keys create --json: %v", err)
	}
	if len(store.keys) != 1 {
		t.Fatalf("the store holds %d keys, want 1", len(store.keys))
	}
	stored := store.keys[0]
	if hash, err := keystore.ParseKey(keystore.DefaultPrefix, fmt.Sprint(created["key"])); err != nil || hash != stored.Hash {
		t.Error("the printed key does not parse or does not match the stored hash")
	}
	want := map[string]any{
		"id": stored.ID, "name": "ci bot", "integration": "billing",
		"created_at": "2030-01-02T03:04:05Z", "expires_at": "2030-02-01T03:04:05Z",
	}
	for field, v := range want {
		if created[field] != v {
			t.Errorf("keys create --json: %s = %v, want %v", field, created[field], v)
		}
	}
	if len(created) != len(want)+1 {
		t.Errorf("keys create --json has %d fields, want %d", len(created), len(want)+1)
	}

	table := mustRunCLI(t, c, "keys", "list")
	for _, s := range []string{"ID", "LAST USED", stored.ID, "ci bot", "billing", "active", "2030-02-01T03:04:05Z", "never"} {
		if !strings.Contains(table, s) {
			t.Errorf("keys list table lacks %q", s)
		}
	}

	out = mustRunCLI(t, c, "keys", "revoke", stored.ID)
	if !strings.Contains(out, "Revoked key "+stored.ID) {
		t.Errorf("keys revoke printed %q", out)
	}
	if _, err := executeCLI(t, c, "keys", "revoke", stored.ID); err == nil || !strings.Contains(err.Error(), "already revoked") {
		t.Errorf("second revoke: error %v, want 'already revoked'", err)
	}
	if table := mustRunCLI(t, c, "keys", "list"); !strings.Contains(table, "revoked") {
		t.Errorf("keys list after revoke lacks the revoked status")
	}
}

// mustRun runs a command line that must succeed and returns its output.
func mustRunCLI(t *testing.T, c *cli, args ...string) string {
	t.Helper()
	out, err := executeCLI(t, c, args...)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return out
}
