package integration_tests

import (
	"net/http"
	"testing"
)

func TestGatewayStoreUnavailable(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// The gateway reaches the database through a proxy the test can cut,
	// like a network partition; the command line goes direct.
	proxy := newTCPProxy(t, databaseHost(t, w.h.dbURL))
	gw := w.start(gatewayConfig{DatabaseURL: viaProxy(t, w.h.dbURL, proxy), CacheTTL: "10m"})
	cached := w.h.createKey("echo", "cached")
	uncached := w.h.createKey("echo", "uncached")
	gw.get(t, "/warm", cached.Key).echoed(t)

	proxy.Cut()

	r := gw.get(t, "/outage", uncached.Key)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503 for a key not in cache while the store is down", r.status)
	}
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if got := r.header.Values("WWW-Authenticate"); len(got) != 0 {
		t.Errorf("503 with WWW-Authenticate %q, want none", got)
	}
	r.errorBody(t)
	if e := gw.authEntry(t, "/outage"); e.str("reason") != "store_unavailable" {
		t.Errorf("auth log reason %q, want store_unavailable", e.str("reason"))
	}

	// A key in cache still works while the store is down.
	if e := gw.get(t, "/cached", cached.Key).echoed(t); e.Path != "/v1/cached" {
		t.Errorf("upstream saw %s, want /v1/cached", e.Path)
	}
	assertNoSecretInLog(t, gw)
}
