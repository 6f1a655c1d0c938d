package caddymodule

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/keygate/keygate/keystore/sqlite"
)

// adminServer serves keygate's admin routes as Caddy's admin endpoint
// does, for a running app on a fresh SQLite store, and returns the audit
// entries they write.
func adminServer(t *testing.T) (*httptest.Server, *observer.ObservedLogs) {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "keygate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	running := &runningApp{shared: &sharedStore{store: store, now: time.Now}, logger: zap.NewNop()}
	current.Store(running)
	t.Cleanup(func() { current.CompareAndSwap(running, nil) })
	core, logs := observer.New(zap.InfoLevel)
	api := &AdminAPI{auditLogger: zap.New(core).Named(auditLoggerName)}
	mux := http.NewServeMux()
	for _, route := range api.Routes() {
		mux.HandleFunc(route.Pattern, func(w http.ResponseWriter, r *http.Request) {
			err := route.Handler.ServeHTTP(w, r)
			if err == nil {
				return
			}
			var apiErr caddy.APIError
			if !errors.As(err, &apiErr) {
				apiErr = caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(apiErr.HTTPStatus)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": apiErr.Error()})
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, logs
}

// call sends a request with an optional body and decodes the JSON answer.
func call(t *testing.T, srv *httptest.Server, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decoding the answer: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

func TestAdminManagementRoutes(t *testing.T) {
	srv, logs := adminServer(t)
	var in map[string]any
	if s := call(t, srv, "POST", "/keygate/integrations", `{"id":"billing","base_url":"http://127.0.0.1:9/v1/"}`, &in); s != 201 || in["base_url"] != "http://127.0.0.1:9/v1" {
		t.Fatalf("adding an integration: %d %v", s, in)
	}
	var created createdKeyJSON
	if s := call(t, srv, "POST", "/keygate/keys", `{"integration":"billing","name":"ci","expires_in":"30d"}`, &created); s != 201 || created.Key == "" || created.ExpiresAt == nil {
		t.Fatalf("creating a key: %d %+v", s, created)
	}
	var shown keyView
	if s := call(t, srv, "GET", "/keygate/keys/"+created.ID, "", &shown); s != 200 || shown.ID != created.ID || shown.Status != "active" {
		t.Fatalf("showing a key: %d %+v", s, shown)
	}
	var rotated rotatedKeyJSON
	if s := call(t, srv, "POST", "/keygate/keys/"+created.ID+"/rotate", `{"grace":"1h"}`, &rotated); s != 201 || rotated.RotatedFrom != created.ID || rotated.Key == "" {
		t.Fatalf("rotating: %d %+v", s, rotated)
	}
	var list []keyView
	if s := call(t, srv, "GET", "/keygate/keys?integration=billing&active=true", "", &list); s != 200 || len(list) != 2 {
		t.Fatalf("listing active keys: %d %+v", s, list)
	}
	if s := call(t, srv, "POST", "/keygate/keys/"+created.ID+"/revoke", "", &shown); s != 200 || shown.Status != "revoked" {
		t.Fatalf("revoking: %d %+v", s, shown)
	}
	if s := call(t, srv, "DELETE", "/keygate/keys/"+rotated.ID, "", &shown); s != 200 || shown.ID != rotated.ID {
		t.Fatalf("deleting: %d %+v", s, shown)
	}
	if s := call(t, srv, "GET", "/keygate/keys", "", &list); s != 200 || len(list) != 1 || list[0].ID != created.ID {
		t.Fatalf("listing after a deletion: %d %+v", s, list)
	}
	if s := call(t, srv, "PATCH", "/keygate/integrations/billing", `{"base_url":"https://billing.example.com"}`, &in); s != 200 || in["base_url"] != "https://billing.example.com" {
		t.Fatalf("changing the base URL: %d %v", s, in)
	}
	var ins []map[string]any
	if s := call(t, srv, "GET", "/keygate/integrations", "", &ins); s != 200 || len(ins) != 1 {
		t.Fatalf("listing integrations: %d %v", s, ins)
	}
	var removed removedIntegration
	if s := call(t, srv, "DELETE", "/keygate/integrations/billing", "", &removed); s != 200 || removed.KeysDeleted != 2 {
		t.Fatalf("removing the integration: %d %+v", s, removed)
	}

	want := []string{"integration added", "key created", "key rotated", "key revoked", "key deleted",
		"integration base url changed", "integration removed"}
	entries := logs.All()
	if len(entries) != len(want) {
		t.Fatalf("%d audit entries, want %d", len(entries), len(want))
	}
	for i, e := range entries {
		f := e.ContextMap()
		if f["action"] != want[i] || !strings.HasPrefix(f["actor"].(string), "127.0.0.1:") {
			t.Errorf("audit entry %d = %v, want %q by 127.0.0.1", i, f, want[i])
		}
		if s := jsonString(t, f); strings.Contains(s, created.Key) || strings.Contains(s, rotated.Key) {
			t.Errorf("audit entry %d holds a key", i)
		}
	}
}

func TestAdminManagementRefusals(t *testing.T) {
	srv, logs := adminServer(t)
	call(t, srv, "POST", "/keygate/integrations", `{"id":"billing","base_url":"http://127.0.0.1:9"}`, nil)
	var created createdKeyJSON
	call(t, srv, "POST", "/keygate/keys", `{"integration":"billing","name":"ci"}`, &created)
	unknownKey := "kid_00000000000000000000"
	cases := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/keygate/keys", `{"integration":"nope","name":"ci"}`, 404, `unknown integration "nope"`},
		{"POST", "/keygate/keys", `{"integration":"billing","name":"ci","expires_in":"soon"}`, 400, `invalid --expires-in "soon"`},
		{"POST", "/keygate/keys", `{"integration":"billing","name":""}`, 400, "missing --name"},
		{"POST", "/keygate/keys", `{"integration":"billing",`, 400, "malformed JSON"},
		{"POST", "/keygate/keys", `{"integration":"billing","name":"ci","key":"x"}`, 400, `unknown field "key"`},
		{"POST", "/keygate/keys", ``, 400, "missing JSON body"},
		{"POST", "/keygate/keys", `{"integration":"billing","name":"ci","expires_in":"1ns"}`, 400, `invalid --expires-in "1ns": a key must live at least 1s`},
		{"POST", "/keygate/keys", `{"integration":"billing","name":"ci\u202e"}`, 400, "invalid --name: holds U+202E"},
		{"POST", "/keygate/keys", `{"integration":"billing","name":"c\u200di"}`, 400, "invalid --name: holds U+200D"},
		{"POST", "/keygate/keys", `{"integration":"billing","name":"ci","name":"admin"}`, 400, `field "name" appears more than once`},
		{"POST", "/keygate/keys", `{"integration":"billing","name":"ci","NAME":"admin"}`, 400, `field "NAME" appears more than once`},
		{"POST", "/keygate/keys", `{"integration":"nope","name":"ci","integration":"billing"}`, 400, `field "integration" appears more than once`},
		{"POST", "/keygate/integrations", `{"id":"dup","base_url":"http://127.0.0.1:9","base_url":"http://127.0.0.1:10"}`, 400, `field "base_url" appears more than once`},
		{"PATCH", "/keygate/integrations/billing", `{"base_url":"http://127.0.0.1:9","base_url":"http://127.0.0.1:10"}`, 400, `field "base_url" appears more than once`},
		{"POST", "/keygate/keys/" + created.ID + "/rotate", `{"grace":"1h","grace":"0"}`, 400, `field "grace" appears more than once`},
		{"POST", "/keygate/keys", `{"name":"` + strings.Repeat("n", maxAdminBody) + `"}`, 413, "larger than"},
		{"PUT", "/keygate/keys", `{}`, 405, "method PUT not allowed"},
		{"GET", "/keygate/keys/" + unknownKey, "", 404, "unknown key id " + unknownKey},
		{"GET", "/keygate/keys/kg_notanid", "", 400, "invalid key id"},
		{"GET", "/keygate/keys/" + created.ID + "/rotate", "", 405, "use POST"},
		{"POST", "/keygate/keys/" + created.ID + "/rotate", `{"grace":"-1h"}`, 400, `invalid --grace "-1h"`},
		{"POST", "/keygate/keys/" + created.ID + "/rotate", `{}`, 400, "missing grace"},
		{"POST", "/keygate/keys/" + unknownKey + "/rotate", `{"grace":"1h"}`, 404, "unknown key id"},
		{"POST", "/keygate/keys/" + created.ID + "/frobnicate", "", 404, "no such route"},
		{"GET", "/keygate/keys?active=maybe", "", 400, `invalid active="maybe"`},
		{"GET", "/keygate/keys?integration=nope", "", 404, `unknown integration "nope"`},
		{"POST", "/keygate/integrations", `{"id":"billing","base_url":"http://x"}`, 409, "already exists"},
		{"POST", "/keygate/integrations", `{"id":"Bad!","base_url":"http://x"}`, 400, "invalid integration id"},
		{"POST", "/keygate/integrations", `{"id":"other","base_url":"ftp://x"}`, 400, "scheme must be http or https"},
		{"PATCH", "/keygate/integrations/nope", `{"base_url":"http://x"}`, 404, `unknown integration "nope"`},
		{"DELETE", "/keygate/integrations/billing", "", 409, "still has active keys"},
		{"DELETE", "/keygate/keys/" + unknownKey, "", 404, "unknown key id"},
	}
	for _, tc := range cases {
		var body map[string]string
		if s := call(t, srv, tc.method, tc.path, tc.body, &body); s != tc.status || !strings.Contains(body["error"], tc.want) {
			t.Errorf("%s %s %.40s: %d %q, want %d with %q", tc.method, tc.path, tc.body, s, body["error"], tc.status, tc.want)
		}
	}
	var revoked keyView
	call(t, srv, "POST", "/keygate/keys/"+created.ID+"/revoke", "", &revoked)
	var body map[string]string
	if s := call(t, srv, "POST", "/keygate/keys/"+created.ID+"/revoke", "", &body); s != 409 || !strings.Contains(body["error"], "already revoked") {
		t.Errorf("revoking twice: %d %v", s, body)
	}
	if s := call(t, srv, "POST", "/keygate/keys/"+created.ID+"/rotate", `{"grace":"0"}`, &body); s != 409 || !strings.Contains(body["error"], "already revoked") {
		t.Errorf("rotating a revoked key: %d %v", s, body)
	}
	if n := len(logs.All()); n != 3 { // integration added, key created, key revoked
		t.Errorf("%d audit entries after refusals, want 3", n)
	}
}
