package caddymodule

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/keygate/keygate/keystore"
)

// TestAdminAuditRoute: the changes made through the admin API are stored
// as audit entries and listed, newest first and filtered, by
// GET /keygate/audit; no entry holds the key.
func TestAdminAuditRoute(t *testing.T) {
	srv, _ := adminServer(t)
	if status := call(t, srv, "POST", "/keygate/integrations", `{"id": "weather", "base_url": "https://weather.example.com"}`, nil); status != 201 {
		t.Fatalf("adding an integration: %d", status)
	}
	var created struct{ ID, Key string }
	if status := call(t, srv, "POST", "/keygate/keys", `{"integration": "weather", "name": "ci"}`, &created); status != 201 {
		t.Fatalf("creating a key: %d", status)
	}
	if status := call(t, srv, "POST", "/keygate/keys/"+created.ID+"/revoke", "", nil); status != 200 {
		t.Fatalf("revoking: %d", status)
	}

	var all []keystore.AuditEntry
	if status := call(t, srv, "GET", "/keygate/audit", "", &all); status != 200 || len(all) != 3 {
		t.Fatalf("GET /keygate/audit: %d, %d entries, want 3", status, len(all))
	}
	want := []struct{ action, key string }{{"key revoked", created.ID}, {"key created", created.ID}, {"integration added", ""}}
	for i, w := range want {
		e := all[i]
		if e.Action != w.action || e.KeyID != w.key || e.IntegrationID != "weather" || !strings.HasPrefix(e.Actor, "127.0.0.1:") {
			t.Errorf("entry %d = %+v, want %q of key %q by the caller's address", i, e, w.action, w.key)
		}
	}
	var details map[string]string
	if err := json.Unmarshal(all[2].Details, &details); err != nil || details["base_url"] != "https://weather.example.com" {
		t.Errorf("the integration's entry has details %s (%v)", all[2].Details, err)
	}
	if raw, _ := json.Marshal(all); strings.Contains(string(raw), created.Key) {
		t.Fatal("the audit trail holds the key")
	}

	for query, n := range map[string]int{
		"?key=" + created.ID: 2, "?integration=weather&limit=1": 1, "?actor=nobody": 0,
		"?before=" + strconv.FormatInt(all[1].ID, 10): 1,
	} {
		var got []keystore.AuditEntry
		if status := call(t, srv, "GET", "/keygate/audit"+query, "", &got); status != 200 || len(got) != n {
			t.Errorf("GET /keygate/audit%s: %d, %d entries, want %d", query, status, len(got), n)
		}
	}
	for _, query := range []string{"?limit=0", "?limit=1001", "?limit=x", "?before=-1"} {
		var refusal struct{ Error string }
		if status := call(t, srv, "GET", "/keygate/audit"+query, "", &refusal); status != http.StatusBadRequest ||
			!strings.Contains(refusal.Error, "want a whole number") {
			t.Errorf("GET /keygate/audit%s: %d %q, want 400", query, status, refusal.Error)
		}
	}
	if status := call(t, srv, "POST", "/keygate/audit", "", nil); status != http.StatusMethodNotAllowed {
		t.Errorf("POST /keygate/audit: %d, want 405", status)
	}
}
