package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/caddymodule"
	"github.com/keygate/keygate/manage"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// lifecycleCLI returns a command line on a fresh SQLite store, with a
// clock the test moves and the audit entries it writes.
func lifecycleCLI(t *testing.T) (*cli, *time.Time, *observer.ObservedLogs) {
	t.Helper()
	now := cliTestNow
	core, logs := observer.New(zap.InfoLevel)
	db := "sqlite:" + filepath.Join(t.TempDir(), "keygate.db")
	c := &cli{
		openStore:   openStore,
		getenv:      func(k string) string { return map[string]string{caddymodule.EnvDatabaseURL: db}[k] },
		now:         func() time.Time { return now },
		auditLogger: func() *zap.Logger { return zap.New(core).Named(manage.AuditLoggerName) },
	}
	return c, &now, logs
}

func TestCLIKeyLifecycle(t *testing.T) {
	c, now, logs := lifecycleCLI(t)
	mustRunCLI(t, c, "integrations", "add", "billing", "--base-url", "http://127.0.0.1:9")
	var created manage.CreatedKeyJSON
	mustDecode(t, mustRunCLI(t, c, "keys", "create", "--integration", "billing", "--name", "ci", "--json"), &created)

	var rotated manage.RotatedKeyJSON
	mustDecode(t, mustRunCLI(t, c, "keys", "rotate", created.ID, "--grace", "1h", "--json"), &rotated)
	if rotated.RotatedFrom != created.ID || rotated.Name != "ci" || rotated.Integration != "billing" || rotated.Key == "" ||
		rotated.OldExpiresAt == nil || !rotated.OldExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("rotate --json = %+v", rotated)
	}
	var shown manage.KeyView
	mustDecode(t, mustRunCLI(t, c, "keys", "show", created.ID, "--json"), &shown)
	if shown.Status != "active" || shown.ExpiresAt == nil {
		t.Fatalf("old key inside the grace period: %+v", shown)
	}
	*now = now.Add(2 * time.Hour)
	if out := mustRunCLI(t, c, "keys", "show", created.ID); !strings.Contains(out, "expired") {
		t.Errorf("keys show after the grace period:\n%s", out)
	}
	for flag, want := range map[string]string{"--active": rotated.ID, "--expired": created.ID} {
		var list []manage.KeyView
		mustDecode(t, mustRunCLI(t, c, "keys", "list", flag, "--json"), &list)
		if len(list) != 1 || list[0].ID != want {
			t.Errorf("keys list %s = %+v, want only %s", flag, list, want)
		}
	}
	if out := mustRunCLI(t, c, "keys", "list", "--max-key-age", "140m"); !strings.Contains(out, "rotate soon") || !strings.Contains(out, "AGE") {
		t.Errorf("keys list --max-key-age 140m, 2h after creation, marks nothing:\n%s", out)
	}

	if _, err := executeCLI(t, c, "integrations", "remove", "billing"); err == nil || !strings.Contains(err.Error(), "active keys") {
		t.Fatalf("removing an integration with an active key: %v", err)
	}
	mustRunCLI(t, c, "keys", "delete", rotated.ID)
	if _, err := executeCLI(t, c, "keys", "show", rotated.ID); err == nil || !strings.Contains(err.Error(), "unknown key id") {
		t.Errorf("showing a deleted key: %v", err)
	}
	if _, err := executeCLI(t, c, "keys", "rotate", created.ID, "--grace", "bogus"); err == nil || !strings.Contains(err.Error(), `invalid --grace "bogus"`) {
		t.Errorf("rotate --grace bogus: %v", err)
	}
	mustRunCLI(t, c, "keys", "revoke", created.ID)
	if _, err := executeCLI(t, c, "keys", "rotate", created.ID, "--grace", "0"); err == nil || !strings.Contains(err.Error(), "already revoked") {
		t.Errorf("rotating a revoked key: %v", err)
	}
	mustRunCLI(t, c, "integrations", "set-url", "billing", "https://billing.example.com/v2/")
	var ins []map[string]any
	mustDecode(t, mustRunCLI(t, c, "integrations", "list", "--json"), &ins)
	if len(ins) != 1 || ins[0]["base_url"] != "https://billing.example.com/v2" {
		t.Errorf("integrations after set-url: %v", ins)
	}
	if out := mustRunCLI(t, c, "integrations", "remove", "billing"); !strings.Contains(out, "deleted its 2 keys") {
		t.Errorf("integrations remove: %s", out)
	}

	wantActions := []string{"integration added", "key created", "key rotated", "key deleted", "key revoked",
		"integration base url changed", "integration removed"}
	entries := logs.All()
	if len(entries) != len(wantActions) {
		t.Fatalf("%d audit entries, want %d: %+v", len(entries), len(wantActions), entries)
	}
	for i, e := range entries {
		fields := e.ContextMap()
		if e.LoggerName != manage.AuditLoggerName || fields["action"] != wantActions[i] || fields["actor"] == "" {
			t.Errorf("audit entry %d = %s %v, want action %q with an actor", i, e.Message, fields, wantActions[i])
		}
		for _, secret := range []string{created.Key, rotated.Key} {
			if strings.Contains(e.Message+jsonString(t, fields), secret[len(secret)-20:]) {
				t.Errorf("audit entry %d holds a key", i)
			}
		}
	}
	if f := entries[2].ContextMap(); f["key_id"] != rotated.ID || f["rotated_from"] != created.ID || f["name"] != "ci" || f["integration"] != "billing" {
		t.Errorf("rotation audit entry = %v", f)
	}
}

func mustDecode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decoding %s: %v", s, err)
	}
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
