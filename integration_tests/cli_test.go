package integration_tests

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// keyPattern is the shape of a key: prefix, 43 secret and 6 checksum
// characters of base62.
var keyPattern = regexp.MustCompile(`^kg_[0-9A-Za-z]{49}$`)

// keyIDPattern is the shape of a public key id.
var keyIDPattern = regexp.MustCompile(`^kid_[0-9A-Za-z]{20}$`)

func TestCLIRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	out := h.mustCLI("integrations", "add", "billing", "--base-url", "http://127.0.0.1:9/v1/")
	if !strings.Contains(out, "billing") {
		t.Errorf("integrations add printed %q, want it to name the integration", out)
	}
	var ins []map[string]any
	decodeJSON(t, h.mustCLI("integrations", "list", "--json"), &ins)
	if len(ins) != 1 || ins[0]["id"] != "billing" || ins[0]["base_url"] != "http://127.0.0.1:9/v1" {
		t.Fatalf("integrations list --json = %v, want billing at http://127.0.0.1:9/v1", ins)
	}
	assertFields(t, "integrations list --json", ins[0], "id", "base_url", "created_at")
	if table := h.mustCLI("integrations", "list"); !containsAll(table, "ID", "BASE URL", "billing", "http://127.0.0.1:9/v1") {
		t.Errorf("integrations list table:\n%s", table)
	}

	before := time.Now().Add(-time.Second)
	k := h.createKey("billing", "ci bot")
	if !keyPattern.MatchString(k.Key) || !keyIDPattern.MatchString(k.ID) {
		t.Errorf("keys create made a key or id of the wrong shape (id %s)", k.ID)
	}
	if k.Name != "ci bot" || k.Integration != "billing" || k.ExpiresAt != nil {
		t.Errorf("keys create --json: name %q, integration %q, expires_at %v", k.Name, k.Integration, k.ExpiresAt)
	}
	if k.CreatedAt.Before(before) || k.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("keys create --json: created_at %v is not now", k.CreatedAt)
	}

	listed := h.mustCLI("keys", "list", "--json")
	if h.leaks(listed) {
		t.Fatal("keys list --json shows the key")
	}
	var raw []map[string]any
	decodeJSON(t, listed, &raw)
	if len(raw) != 1 {
		t.Fatalf("keys list --json has %d keys, want 1", len(raw))
	}
	assertFields(t, "keys list --json", raw[0], "id", "name", "integration", "created_at", "expires_at", "revoked_at", "last_used_at", "status")
	keys := h.listKeys()
	if got := keys[0]; got.ID != k.ID || got.Name != "ci bot" || got.Integration != "billing" ||
		!got.CreatedAt.Equal(k.CreatedAt) || got.RevokedAt != nil || got.ExpiresAt != nil {
		t.Errorf("keys list --json = %+v, want the created key, not revoked", got)
	}
	table := h.mustCLI("keys", "list")
	if h.leaks(table) {
		t.Fatal("keys list shows the key")
	}
	if !containsAll(table, "ID", "NAME", "INTEGRATION", "STATUS", "CREATED", "EXPIRES", "LAST USED", k.ID, "ci bot", "active", "never") {
		t.Errorf("keys list table:\n%s", table)
	}

	if out := h.mustCLI("keys", "revoke", k.ID); !strings.Contains(out, k.ID) {
		t.Errorf("keys revoke printed %q, want it to name the key id", out)
	}
	keys = h.listKeys()
	if len(keys) != 1 || keys[0].RevokedAt == nil || keys[0].RevokedAt.Before(k.CreatedAt) {
		t.Errorf("keys list --json after revoke: %+v, want revoked_at set", keys)
	}
	if table := h.mustCLI("keys", "list"); !containsAll(table, k.ID, "revoked") {
		t.Errorf("keys list table after revoke:\n%s", table)
	}
}

func TestCLIKeyExpiryAndFilter(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addIntegration("billing", "https://billing.example")
	h.addIntegration("crm", "https://crm.example/api")

	for flag, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "90d": 90 * 24 * time.Hour, "36h": 36 * time.Hour} {
		k := h.createKey("billing", "expiring "+flag, "--expires-in", flag)
		if k.ExpiresAt == nil || k.ExpiresAt.Sub(k.CreatedAt) != want {
			t.Errorf("--expires-in %s: created_at %v, expires_at %v; want %v apart", flag, k.CreatedAt, k.ExpiresAt, want)
		}
	}
	crm := h.createKey("crm", "crm key")

	if keys := h.listKeys("--integration", "crm"); len(keys) != 1 || keys[0].ID != crm.ID {
		t.Errorf("keys list --integration crm = %+v, want only %s", keys, crm.ID)
	}
	if keys := h.listKeys("--integration", "billing"); len(keys) != 3 {
		t.Errorf("keys list --integration billing has %d keys, want 3", len(keys))
	}
	if keys := h.listKeys(); len(keys) != 4 {
		t.Errorf("keys list has %d keys, want 4", len(keys))
	}
}

func TestCLICreateShowsKeyOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addIntegration("billing", "https://billing.example")
	out := h.mustCLI("keys", "create", "--integration", "billing", "--name", "human")
	keys := h.listKeys()
	if len(keys) != 1 {
		t.Fatalf("keys list has %d keys after one create, want 1", len(keys))
	}
	var shown []string
	for _, field := range strings.Fields(out) {
		if keyPattern.MatchString(field) {
			shown = append(shown, field)
		}
	}
	if len(shown) != 1 {
		t.Fatalf("keys create showed %d keys, want exactly 1", len(shown))
	}
	h.remember(shown[0])
	if !containsAll(out, "will not be shown again", keys[0].ID, "billing", "human") {
		t.Errorf("keys create without --json lacks the warning, the id, the integration or the name")
	}
}

func TestCLIEmptyListsAreEmptyArrays(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, args := range [][]string{{"integrations", "list", "--json"}, {"keys", "list", "--json"}} {
		if out := strings.TrimSpace(h.mustCLI(args...)); out != "[]" {
			t.Errorf("%s on an empty store = %q, want []", strings.Join(args, " "), out)
		}
	}
}

func TestCLIErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addIntegration("billing", "https://billing.example")
	revoked := h.createKey("billing", "to revoke")
	h.mustCLI("keys", "revoke", revoked.ID)

	cases := []struct {
		name string
		args []string
		want []string // in standard error
	}{
		{"unknown integration", []string{"keys", "create", "--integration", "nope", "--name", "n"},
			[]string{`unknown integration "nope"`, "integrations add nope"}},
		{"unknown integration filter", []string{"keys", "list", "--integration", "nope"}, []string{`unknown integration "nope"`}},
		{"duplicate integration", []string{"integrations", "add", "billing", "--base-url", "https://other.example"},
			[]string{`integration "billing" already exists`}},
		{"invalid integration id", []string{"integrations", "add", "Billing!", "--base-url", "https://x.example"},
			[]string{`invalid integration id "Billing!"`, "lowercase"}},
		{"invalid base URL scheme", []string{"integrations", "add", "ok", "--base-url", "ftp://x.example"},
			[]string{"invalid base URL", "http or https"}},
		{"base URL with credentials", []string{"integrations", "add", "ok", "--base-url", "https://u:p@x.example"},
			[]string{"invalid base URL", "credentials"}},
		{"missing base URL", []string{"integrations", "add", "ok"}, []string{"missing --base-url"}},
		{"credential over plain http", []string{"credential", "rotate", "--url", "http://gw.example.com/keygate/rotate", "--key-file", "/nonexistent"},
			[]string{"invalid --url", "plain http would send the key in the clear", "use https"}},
		{"credential without a url", []string{"credential", "token", "--key-file", "/nonexistent"}, []string{"missing --url"}},
		{"unknown key id", []string{"keys", "revoke", "kid_00000000000000000000"}, []string{"unknown key id kid_00000000000000000000"}},
		{"malformed key id", []string{"keys", "revoke", "12345"}, []string{"invalid key id", "kid_"}},
		{"already revoked", []string{"keys", "revoke", revoked.ID}, []string{revoked.ID, "already revoked"}},
		{"unknown flag", []string{"keys", "list", "--color"}, []string{"unknown flag: --color", "keys list --help"}},
		{"flag without value", []string{"keys", "create", "--integration"}, []string{"flag needs an argument", "--integration"}},
		{"missing argument", []string{"keys", "revoke"}, []string{"missing KEY_ID"}},
		{"extra argument", []string{"keys", "revoke", revoked.ID, "again"}, []string{"too many arguments"}},
		{"extra argument to list", []string{"integrations", "list", "all"}, []string{"too many arguments"}},
		{"missing integration flag", []string{"keys", "create", "--name", "n"}, []string{"missing --integration"}},
		{"missing name", []string{"keys", "create", "--integration", "billing"}, []string{"missing --name"}},
		{"zero duration", []string{"keys", "create", "--integration", "billing", "--name", "n", "--expires-in", "0d"},
			[]string{`invalid --expires-in "0d"`, "positive"}},
		{"negative duration", []string{"keys", "create", "--integration", "billing", "--name", "n", "--expires-in", "-5m"},
			[]string{`invalid --expires-in "-5m"`}},
		{"unparsable duration", []string{"keys", "create", "--integration", "billing", "--name", "n", "--expires-in", "soon"},
			[]string{`invalid --expires-in "soon"`, "30d"}},
		{"missing subcommand", []string{"keys"}, []string{"missing subcommand", "create", "revoke"}},
		{"unknown subcommand", []string{"integrations", "rename", "billing"}, []string{`unknown subcommand "rename"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := h.cli(tc.args...)
			assertFailed(t, res, tc.want...)
		})
	}
	if keys := h.listKeys(); len(keys) != 1 {
		t.Errorf("failed commands changed the store: %d keys, want 1", len(keys))
	}
}

func TestCLIDatabaseErrors(t *testing.T) {
	t.Parallel()
	requireBinary(t)

	// No database given, and the default embedded store cannot be made:
	// its directory would be under a regular file.
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	res := runKeygate(t, []string{"XDG_DATA_HOME=" + filepath.Join(notADir, "data")}, "keys", "list")
	assertFailed(t, res, "--database", "KEYGATE_DATABASE_URL")

	// A port nothing listens on: the database is unreachable.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	const password = "Sup3r-s3cret-pw"
	url := fmt.Sprintf("postgres://keygate:%s@%s/keygate?sslmode=disable&connect_timeout=5", password, dead)
	for _, args := range [][]string{
		{"keys", "list", "--database", url},
		{"integrations", "add", "billing", "--base-url", "https://b.example", "--database", url},
	} {
		res := runKeygate(t, nil, args...)
		assertFailed(t, res, "the key store", dead)
		if strings.Contains(res.stderr+res.stdout, password) {
			t.Errorf("keygate %s printed the database password", args[0])
		}
	}
	res = runKeygate(t, []string{"KEYGATE_DATABASE_URL=" + url}, "integrations", "list")
	assertFailed(t, res, "the key store")
	if strings.Contains(res.stderr+res.stdout, password) {
		t.Errorf("keygate printed the password of KEYGATE_DATABASE_URL")
	}
}

func TestListModules(t *testing.T) {
	t.Parallel()
	requireBinary(t)
	res := runKeygate(t, nil, "list-modules")
	if res.code != 0 {
		t.Fatalf("keygate list-modules: exit code %d, stderr:\n%s", res.code, res.stderr)
	}
	modules := strings.Fields(res.stdout)
	for _, m := range []string{"keygate", "http.handlers.keygate", "http.reverse_proxy.upstreams.keygate", "http.handlers.reverse_proxy"} {
		if !slices.Contains(modules, m) {
			t.Errorf("keygate list-modules lacks %s", m)
		}
	}
}

// assertFailed checks that a command failed with a non-zero exit code,
// printed nothing on standard output, and said every one of want on
// standard error.
func assertFailed(t *testing.T, res result, want ...string) {
	t.Helper()
	if res.code == 0 {
		t.Errorf("exit code 0, want a failure")
	}
	if res.stdout != "" {
		t.Errorf("standard output has %d bytes (not shown: it may hold a key), want nothing on failure", len(res.stdout))
	}
	for _, w := range want {
		if !strings.Contains(res.stderr, w) {
			t.Errorf("standard error lacks %q:\n%s", w, res.stderr)
		}
	}
}

// assertFields checks that a JSON object has exactly the given fields.
func assertFields[V any](t *testing.T, what string, obj map[string]V, want ...string) {
	t.Helper()
	got := slices.Sorted(maps.Keys(obj))
	if want = slices.Sorted(slices.Values(want)); !slices.Equal(got, want) {
		t.Errorf("%s fields = %v, want exactly %v", what, got, want)
	}
}

// containsAll reports whether s contains every one of subs.
func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// keysCreateFields are the fields of `keys create --json`, exactly.
var keysCreateFields = []string{"id", "key", "name", "integration", "created_at", "expires_at"}

func TestCLICreateJSONFields(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.addIntegration("billing", "https://billing.example")
	for _, flags := range [][]string{nil, {"--expires-in", "1h"}} {
		out := h.mustCLI(append([]string{"keys", "create", "--integration", "billing", "--name", "n", "--json"}, flags...)...)
		var obj map[string]json.RawMessage
		decodeJSON(t, out, &obj)
		var key string
		_ = json.Unmarshal(obj["key"], &key)
		h.remember(key)
		assertFields(t, "keys create --json", obj, keysCreateFields...)
		if exp := string(obj["expires_at"]); (exp == "null") != (flags == nil) {
			t.Errorf("keys create --json %v: expires_at = %s", flags, exp)
		}
	}
}
