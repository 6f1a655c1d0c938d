package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/manage"
)

// TestCLIIntegrationRotationShown: an integration's rotation settings are
// in `integrations list --json` as rotate_every and rotate_grace (left
// out when unset) and in its table, as set-rotation and add set them.
func TestCLIIntegrationRotationShown(t *testing.T) {
	c, _, _ := lifecycleCLI(t)
	mustRunCLI(t, c, "integrations", "add", "billing", "--base-url", "http://127.0.0.1:9", "--rotate-every", "90d")
	mustRunCLI(t, c, "integrations", "add", "crm", "--base-url", "http://127.0.0.1:10", "--rotate-grace", "2h")
	mustRunCLI(t, c, "integrations", "add", "maps", "--base-url", "http://127.0.0.1:11")
	var ins []map[string]any
	mustDecode(t, mustRunCLI(t, c, "integrations", "list", "--json"), &ins)
	want := map[string]map[string]any{
		"billing": {"rotate_every": "90d"},
		"crm":     {"rotate_grace": "2h"},
		"maps":    {},
	}
	if len(ins) != len(want) {
		t.Fatalf("integrations list --json = %v", ins)
	}
	for _, in := range ins {
		w := want[in["id"].(string)]
		for _, field := range []string{"rotate_every", "rotate_grace"} {
			if got, ok := in[field]; got != w[field] || ok != (w[field] != nil) {
				t.Errorf("integration %s: %s = %v, want %v", in["id"], field, got, w[field])
			}
		}
	}

	var set manage.IntegrationView
	mustDecode(t, mustRunCLI(t, c, "integrations", "set-rotation", "maps", "--rotate-every", "7d", "--rotate-grace", "30m", "--json"), &set)
	if set.ID != "maps" || set.RotateEvery != "7d" || set.RotateGrace != "30m" {
		t.Errorf("set-rotation --json = %+v", set)
	}
	var changed manage.IntegrationView
	mustDecode(t, mustRunCLI(t, c, "integrations", "set-url", "maps", "http://127.0.0.1:12", "--json"), &changed)
	if changed.RotateEvery != "7d" || changed.RotateGrace != "30m" {
		t.Errorf("set-url --json loses the rotation: %+v", changed)
	}

	table := mustRunCLI(t, c, "integrations", "list")
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "ROTATE EVERY") || !strings.Contains(lines[0], "ROTATE GRACE") {
		t.Fatalf("integrations list:\n%s", table)
	}
	every, grace := strings.Index(lines[0], "ROTATE EVERY"), strings.Index(lines[0], "ROTATE GRACE")
	for i, cells := range [][2]string{{"90d", "1h"}, {"never", "2h"}, {"7d", "30m"}} {
		line := lines[i+1]
		if !strings.HasPrefix(line[every:], cells[0]+" ") || !strings.HasPrefix(line[grace:], cells[1]) {
			t.Errorf("row %d %q: want %s under ROTATE EVERY and %s under ROTATE GRACE", i, line, cells[0], cells[1])
		}
	}
}

// TestCLIKeyRollingFields: `keys create --exchange-only --rotate-every`
// prints both with --json, and `keys list --json` agrees.
func TestCLIKeyRollingFields(t *testing.T) {
	c, now, _ := lifecycleCLI(t)
	mustRunCLI(t, c, "integrations", "add", "billing", "--base-url", "http://127.0.0.1:9")
	var created manage.CreatedKeyJSON
	mustDecode(t, mustRunCLI(t, c, "keys", "create", "--integration", "billing", "--name", "cron",
		"--exchange-only", "--rotate-every", "30d", "--json"), &created)
	if !created.ExchangeOnly || created.RotateEvery != "30d" {
		t.Errorf("keys create --json = %+v, want exchange_only and rotate_every 30d", created)
	}
	var list []manage.KeyView
	mustDecode(t, mustRunCLI(t, c, "keys", "list", "--json"), &list)
	if due := now.Add(30 * 24 * time.Hour); len(list) != 1 || list[0].ID != created.ID || !list[0].ExchangeOnly ||
		list[0].RotateEvery != "30d" || list[0].RotateDueAt == nil || !list[0].RotateDueAt.Equal(due) {
		t.Errorf("keys list --json = %+v, want the key, exchange-only, due at %s", list, due)
	}
	var rotated manage.RotatedKeyJSON
	mustDecode(t, mustRunCLI(t, c, "keys", "rotate", created.ID, "--grace", "1h", "--json"), &rotated)
	if !rotated.ExchangeOnly || rotated.RotateEvery != "30d" {
		t.Errorf("keys rotate --json = %+v: the new key keeps exchange_only and rotate_every", rotated)
	}
}

// TestCLIRotationErrorsNameFlags: rotation settings refused by manage are
// phrased with the command line's flags, never the JSON fields.
func TestCLIRotationErrorsNameFlags(t *testing.T) {
	c, _, _ := lifecycleCLI(t)
	mustRunCLI(t, c, "integrations", "add", "billing", "--base-url", "http://127.0.0.1:9")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"keys", "create", "--integration", "billing", "--name", "ci", "--rotate-every", "abc"}, `invalid --rotate-every "abc"`},
		{[]string{"keys", "create", "--integration", "billing", "--name", "ci", "--rotate-every", "30s"}, "invalid --rotate-every: rotation period 30s is under a minute"},
		{[]string{"integrations", "set-rotation", "billing", "--rotate-every", "-1h"}, `invalid --rotate-every "-1h"`},
		{[]string{"integrations", "set-rotation", "billing", "--rotate-every", "30d", "--rotate-grace", "soon"}, `invalid --rotate-grace "soon"`},
		{[]string{"integrations", "set-rotation", "billing", "--rotate-every", ""}, "missing --rotate-every DURATION"},
		{[]string{"integrations", "add", "crm", "--base-url", "http://127.0.0.1:9", "--rotate-every", "0s"}, `invalid --rotate-every "0s"`},
	} {
		_, err := executeCLI(t, c, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "rotate_") {
			t.Errorf("%s: %v, want an error with %q naming no JSON field", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	var list []manage.KeyView
	if mustDecode(t, mustRunCLI(t, c, "keys", "list", "--json"), &list); len(list) != 0 {
		t.Errorf("refused commands created %d keys", len(list))
	}
}
