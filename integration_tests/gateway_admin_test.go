package integration_tests

import (
	"encoding/json"
	"net/http"
	"testing"
)

// dropCache calls the admin route that drops keys from the gateway's
// cache, and returns how many entries it dropped.
func (g *gateway) dropCache(t *testing.T, query string) int {
	t.Helper()
	r := g.adminRequest(t, http.MethodPost, "/keygate/cache/drop"+query, nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("POST /keygate/cache/drop%s: status %d: %s", query, r.status, r.body)
	}
	var body struct {
		Dropped *int `json:"dropped"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Dropped == nil {
		t.Fatalf("POST /keygate/cache/drop%s: body %s (%v), want {\"dropped\": n}", query, r.body, err)
	}
	return *body.Dropped
}

// TestGatewayAdminCacheDrop: with the database unreachable, cached keys
// keep working; the admin route is how an operator stops one, or all.
func TestGatewayAdminCacheDrop(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	proxy := newTCPProxy(t, databaseHost(t, w.h.dbURL))
	gw := w.start(gatewayConfig{DatabaseURL: viaProxy(t, w.h.dbURL, proxy), CacheTTL: "10m"})
	one, other := w.h.createKey("echo", "dropped alone"), w.h.createKey("echo", "dropped with all")
	warm(t, []*gateway{gw}, one, other)

	for _, tc := range []struct {
		method, query string
		status        int
	}{
		{http.MethodGet, "", http.StatusMethodNotAllowed},
		{http.MethodPost, "?key_id=nope", http.StatusBadRequest},
		{http.MethodPost, "?key_id=kid_short", http.StatusBadRequest},
	} {
		r := gw.adminRequest(t, tc.method, "/keygate/cache/drop"+tc.query, nil, nil)
		if r.status != tc.status {
			t.Errorf("%s /keygate/cache/drop: status %d, want %d", tc.method, r.status, tc.status)
		}
	}

	proxy.Cut() // the database is unreachable
	for _, k := range []createdKey{one, other} {
		gw.get(t, "/cached", k.Key).echoed(t)
	}
	if n := gw.dropCache(t, "?key_id="+one.ID); n != 1 {
		t.Errorf("dropping one key dropped %d entries, want 1", n)
	}
	if r := gw.get(t, "/dropped", one.Key); r.status != http.StatusServiceUnavailable {
		t.Errorf("a dropped key with the database down: status %d, want 503", r.status)
	}
	gw.get(t, "/kept", other.Key).echoed(t)
	if n := gw.dropCache(t, "?key_id=kid_00000000000000000000"); n != 0 {
		t.Errorf("dropping a key not in cache dropped %d entries", n)
	}

	if n := gw.dropCache(t, ""); n != 1 {
		t.Errorf("dropping everything dropped %d entries, want 1", n)
	}
	if r := gw.get(t, "/all-dropped", other.Key); r.status != http.StatusServiceUnavailable {
		t.Errorf("a key after dropping everything with the database down: status %d, want 503", r.status)
	}
	if !gw.logged(t, "key cache dropped by the admin API") || !gw.logged(t, "key dropped from the cache by the admin API") {
		t.Error("the drops are not in the gateway's log")
	}
	assertNoSecretInLog(t, gw)
}
