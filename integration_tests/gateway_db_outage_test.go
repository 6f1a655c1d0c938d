package integration_tests

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/pgtest"
	"github.com/keygate/keygate/internal/poll"
)

// TestGatewayDatabaseDown stops PostgreSQL under traffic: a cached key,
// and a cached token of it, keep working for stale_ttl, then get 503 like
// a key not in cache, never 401; the gateway stays up, and once PostgreSQL is back it recovers
// by itself and applies a revocation made after the restart. It stops the
// shared test cluster, so it does not run in parallel.
func TestGatewayDatabaseDown(t *testing.T) {
	cluster := pgtest.Server(t)
	if cluster.External() {
		t.Skip("needs the throwaway cluster: an external server is not ours to stop")
	}
	const staleTTL = 3 * time.Second
	w := newWorld(t)
	gw := w.start(gatewayConfig{CacheTTL: "10m", StaleTTL: staleTTL.String()})
	cached, uncached := w.h.createKey("echo", "cached"), w.h.createKey("echo", "uncached")
	warm(t, []*gateway{gw}, cached)
	tok := getToken(t, w.h, gw, cached).AccessToken
	gw.get(t, "/token-before", tok).echoed(t)
	statuses, stopTraffic := traffic(gw, cached.Key, 1)
	defer stopTraffic()

	cluster.Stop(t)
	stopped := time.Now()
	if r := gw.get(t, "/token-during", tok); r.status != http.StatusOK {
		t.Errorf("a cached token right after PostgreSQL stopped: status %d, want 200 for stale_ttl", r.status)
	}
	r := gw.get(t, "/uncached", uncached.Key)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("a key not in cache while PostgreSQL is down: status %d, Retry-After %q; want 503 with Retry-After",
			r.status, r.header.Get("Retry-After"))
	}
	poll.Until(t, staleTTL+5*time.Second, "the cached key refused once stale_ttl has passed", func() (bool, string) {
		all := statuses.all()
		if len(all) == 0 {
			return false, "no request answered yet"
		}
		last := all[len(all)-1]
		return last.status == http.StatusServiceUnavailable, fmt.Sprintf("status %d", last.status)
	})
	if r := gw.get(t, "/uncached-again", uncached.Key); r.status != http.StatusServiceUnavailable {
		t.Errorf("a key not in cache, asked again: status %d, want 503 (a failure must not be cached)", r.status)
	}
	// Past stale_ttl a token's key state is no longer trusted either: 503,
	// never 401; and the token endpoint cannot vouch for a key.
	if r := gw.get(t, "/token-stale", tok); r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("a token past stale_ttl with PostgreSQL down: status %d, Retry-After %q; want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	exchange := gw.request(t, http.MethodPost, "/oauth/token", "", func(r *http.Request) {
		withBody("grant_type=client_credentials")(r)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(cached.ID, cached.Key)
	})
	if exchange.status != http.StatusServiceUnavailable || exchange.errorBody(t) != "temporarily_unavailable" {
		t.Errorf("a token request past stale_ttl with PostgreSQL down: status %d, want 503 temporarily_unavailable", exchange.status)
	}
	var servedStale, firstRefusal time.Time
	for _, s := range statuses.all() {
		switch {
		case s.status != http.StatusOK && s.status != http.StatusServiceUnavailable:
			t.Fatalf("status %d under the outage, want only 200 then 503", s.status)
		case s.at.Before(stopped):
		case s.status == http.StatusOK && firstRefusal.IsZero():
			servedStale = s.at
		case s.status == http.StatusServiceUnavailable && firstRefusal.IsZero():
			firstRefusal = s.at
		}
	}
	if servedStale.IsZero() || firstRefusal.Sub(stopped) < staleTTL/2 {
		t.Errorf("the cached key was served until %v after PostgreSQL stopped and refused from %v: want it served for about stale_ttl (%v)",
			servedStale.Sub(stopped), firstRefusal.Sub(stopped), staleTTL)
	}
	t.Logf("PostgreSQL stopped: the cached key served until +%v, refused (503) from +%v; stale_ttl %v",
		servedStale.Sub(stopped).Round(time.Millisecond), firstRefusal.Sub(stopped).Round(time.Millisecond), staleTTL)
	if !gw.logged(t, "serving cached key while the change feed is down") {
		t.Error("no warning logged while serving from a cache the change feed no longer confirms")
	}

	cluster.Start(t)
	poll.Until(t, 10*time.Second, "the cached key allowed again once PostgreSQL is back", func() (bool, string) {
		r := gw.get(t, "/back", cached.Key)
		return r.status == http.StatusOK, fmt.Sprintf("status %d", r.status)
	})
	gw.get(t, "/uncached-back", uncached.Key).echoed(t)
	gw.get(t, "/token-back", tok).echoed(t)
	w.h.mustCLI("keys", "revoke", cached.ID)
	poll.Until(t, propagationBound, "a revocation made after the restart applied", func() (bool, string) {
		r := gw.get(t, "/revoked", cached.Key)
		return r.status == http.StatusUnauthorized, fmt.Sprintf("status %d", r.status)
	})
	if r := gw.get(t, "/token-of-revoked", tok); r.status != http.StatusUnauthorized {
		t.Errorf("the revoked key's token: status %d, want 401", r.status)
	}
	stopTraffic()
	for _, s := range statuses.all() {
		if s.status == http.StatusUnauthorized && s.at.Before(stopped.Add(staleTTL)) || s.status == 0 {
			t.Errorf("traffic got status %d (%v) at %v after the stop", s.status, s.err, s.at.Sub(stopped))
			break
		}
	}
	select {
	case <-gw.exited:
		t.Fatal("the gateway exited")
	default:
	}
}
