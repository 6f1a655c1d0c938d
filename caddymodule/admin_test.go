package caddymodule

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
)

// adminRequest sends one request to keygate's admin routes and returns the
// response, or the API error Caddy would answer with.
func adminRequest(t *testing.T, method, target string) (*httptest.ResponseRecorder, error) {
	t.Helper()
	routes := new(AdminAPI).Routes()
	r := httptest.NewRequest(method, target, nil)
	for _, route := range routes {
		if route.Pattern == r.URL.Path {
			w := httptest.NewRecorder()
			return w, route.Handler.ServeHTTP(w, r)
		}
	}
	t.Fatalf("no admin route for %s", r.URL.Path)
	return nil, nil
}

// apiStatus returns the status of an admin API error.
func apiStatus(err error) int {
	var apiErr caddy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.HTTPStatus
	}
	return 0
}

// dropped decodes {"dropped": n}.
func dropped(t *testing.T, w *httptest.ResponseRecorder) int {
	t.Helper()
	var body map[string]int
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body) != 1 {
		t.Fatalf("body %q (%v), want {\"dropped\": n}", w.Body, err)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return body["dropped"]
}

func TestAdminCacheDrop(t *testing.T) {
	f := newFixture(t)
	const keyID = "kid_admin000000000000000"
	key := f.addKey(keystore.Credential{KeyID: keyID, KeyName: "admin test", IntegrationID: "billing", BaseURL: "http://billing.internal:8080"})
	h := f.handler("", false)
	running := &runningApp{runtime: f.app.runtime, logger: zap.NewNop()}
	current.Store(running)
	t.Cleanup(func() { current.CompareAndSwap(running, nil) })
	warm := func() {
		t.Helper()
		for _, key := range []string{key, f.valid} {
			if res := serveKeygate(h, newRequest(bearer(key))); res.resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", res.resp.StatusCode)
			}
		}
	}
	warm()
	lookups := f.store.lookups.Load()

	w, err := adminRequest(t, http.MethodPost, "/keygate/cache/drop?key_id="+keyID)
	if err != nil {
		t.Fatal(err)
	}
	if n := dropped(t, w); n != 1 {
		t.Errorf("dropped %d entries for one key, want 1", n)
	}
	warm()
	if n := f.store.lookups.Load() - lookups; n != 1 {
		t.Errorf("%d lookups after dropping one key, want 1", n)
	}

	w, err = adminRequest(t, http.MethodPost, "/keygate/cache/drop?key_id=kid_00000000000000000000")
	if err != nil || dropped(t, w) != 0 {
		t.Errorf("dropping a key not in cache: %v, %s", err, w.Body)
	}

	w, err = adminRequest(t, http.MethodPost, "/keygate/cache/drop")
	if err != nil {
		t.Fatal(err)
	}
	if n := dropped(t, w); n != 2 {
		t.Errorf("dropped %d entries, want 2", n)
	}
	lookups = f.store.lookups.Load()
	warm()
	if n := f.store.lookups.Load() - lookups; n != 2 {
		t.Errorf("%d lookups after dropping everything, want 2", n)
	}
}

func TestAdminCacheDropRefusals(t *testing.T) {
	f := newFixture(t)
	running := &runningApp{runtime: f.app.runtime, logger: zap.NewNop()}
	current.Store(running)
	for _, tc := range []struct {
		method, target string
		status         int
	}{
		{http.MethodGet, "/keygate/cache/drop", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/keygate/cache/drop?key_id=kid_valid0000000000000", http.StatusMethodNotAllowed},
		{http.MethodPost, "/keygate/cache/drop?key_id=kg_notanid", http.StatusBadRequest},
		{http.MethodPost, "/keygate/cache/drop?key_id=", http.StatusBadRequest},
	} {
		w, err := adminRequest(t, tc.method, tc.target)
		if got := apiStatus(err); got != tc.status {
			t.Errorf("%s %s: status %d (%v), want %d", tc.method, tc.target, got, err, tc.status)
		}
		if tc.status == http.StatusMethodNotAllowed && w.Header().Get("Allow") != http.MethodPost {
			t.Errorf("%s: Allow %q", tc.method, w.Header().Get("Allow"))
		}
	}

	current.CompareAndSwap(running, nil)
	if _, err := adminRequest(t, http.MethodPost, "/keygate/cache/drop"); apiStatus(err) != http.StatusServiceUnavailable {
		t.Errorf("without a running keygate app: %v, want 503", err)
	}
}

// TestAdminRouterIsLoaded: Caddy serves every module of the admin.api
// namespace by itself.
func TestAdminRouterIsLoaded(t *testing.T) {
	mod, err := caddy.GetModule("admin.api.keygate")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mod.New().(caddy.AdminRouter); !ok {
		t.Fatal("admin.api.keygate is not an AdminRouter")
	}
}

// TestAdminCacheDropHidesKey: a key passed by mistake as key_id is not
// repeated in the error.
func TestAdminCacheDropHidesKey(t *testing.T) {
	key := mustKey(t)
	_, err := adminRequest(t, http.MethodPost, "/keygate/cache/drop?key_id="+key)
	if apiStatus(err) != http.StatusBadRequest || strings.Contains(err.Error(), key[3:15]) {
		t.Fatalf("error %v: want a 400 that does not repeat the key", err)
	}
}
