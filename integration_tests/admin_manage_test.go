package integration_tests

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// adminJSON sends a JSON request to the gateway's admin endpoint and
// decodes the answer into out (if not nil). It never shows the body,
// which may hold a key.
func (g *gateway) adminJSON(t *testing.T, method, path, body string, out any) int {
	t.Helper()
	r := g.adminRequest(t, method, path, []byte(body), http.Header{"Content-Type": {"application/json"}})
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			t.Fatalf("%s %s: decoding the answer (%d bytes): %v", method, path, len(r.body), err)
		}
	}
	return r.status
}

func TestAdminAPIManagesKeys(t *testing.T) {
	t.Parallel()
	w, gw := startedWorld(t)
	h := w.h
	var in map[string]any
	if s := gw.adminJSON(t, "POST", "/keygate/integrations", `{"id":"echo2","base_url":"`+w.echo.URL+`/v1"}`, &in); s != 201 {
		t.Fatalf("adding an integration: status %d", s)
	}
	var k createdKey
	if s := gw.adminJSON(t, "POST", "/keygate/keys", `{"integration":"echo2","name":"automation"}`, &k); s != 201 || k.Key == "" {
		t.Fatalf("creating a key: status %d", s)
	}
	h.remember(k.Key)
	if r := gw.get(t, "/via-admin", k.Key); r.status != http.StatusOK {
		t.Fatalf("a key made by the admin API: status %d", r.status)
	}
	var rotated rotatedKey
	if s := gw.adminJSON(t, "POST", "/keygate/keys/"+k.ID+"/rotate", `{"grace":"0"}`, &rotated); s != 201 || rotated.RotatedFrom != k.ID {
		t.Fatalf("rotating: status %d", s)
	}
	h.remember(rotated.Key)
	waitRefused(t, gw, k.Key, "rotated with no grace")
	if r := gw.get(t, "/rotated", rotated.Key); r.status != http.StatusOK {
		t.Fatalf("the new key: status %d", r.status)
	}
	var list []keyDetails
	if s := gw.adminJSON(t, "GET", "/keygate/keys?integration=echo2&active=true", "", &list); s != 200 || len(list) != 1 || list[0].ID != rotated.ID {
		t.Fatalf("listing active keys: status %d, %d keys", s, len(list))
	}
	var shown keyDetails
	if s := gw.adminJSON(t, "GET", "/keygate/keys/"+rotated.ID, "", &shown); s != 200 || shown.Status != "active" {
		t.Fatalf("showing: status %d, %+v", s, shown.Status)
	}
	if s := gw.adminJSON(t, "DELETE", "/keygate/keys/"+rotated.ID, "", nil); s != 200 {
		t.Fatalf("deleting: status %d", s)
	}
	e := waitRefused(t, gw, rotated.Key, "deleted")
	if e.str("reason") != "revoked" {
		t.Errorf("a deleted key is refused with reason %q, want revoked", e.str("reason"))
	}
	var body map[string]string
	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/keygate/keys", `{"integration":"nope","name":"x"}`, 404},
		{"POST", "/keygate/keys", `{"integration":`, 400},
		{"POST", "/keygate/keys", `{"integration":"echo2","name":"x","expires_in":"soon"}`, 400},
		{"POST", "/keygate/keys/" + rotated.ID + "/revoke", "", 404},
		{"POST", "/keygate/keys", `{"name":"` + strings.Repeat("x", 1<<17) + `"}`, 413},
		{"PUT", "/keygate/integrations", `{}`, 405},
	} {
		if s := gw.adminJSON(t, tc.method, tc.path, tc.body, &body); s != tc.status || body["error"] == "" {
			t.Errorf("%s %s: status %d, error %q; want %d with an error", tc.method, tc.path, s, body["error"], tc.status)
		}
	}

	actions := map[string]bool{}
	for _, e := range gw.logEntries(t) {
		if e.str("logger") == "keygate.audit" {
			actions[e.str("action")] = true
			if !strings.HasPrefix(e.str("actor"), "127.0.0.1:") {
				t.Errorf("audit entry %q: actor %q, want the caller's address", e.str("action"), e.str("actor"))
			}
		}
	}
	for _, a := range []string{"integration added", "key created", "key rotated", "key deleted"} {
		if !actions[a] {
			t.Errorf("no audit entry for %q in the gateway log", a)
		}
	}
}
