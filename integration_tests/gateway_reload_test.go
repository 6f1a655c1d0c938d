package integration_tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/poll"
)

// TestGatewayReloadUnderLoad reloads the gateway's config while clients
// keep sending requests: configs that keep the cache settings share the
// store, its cache and its listener; configs that change them get new
// ones, and the old ones are closed. No request fails, and goroutines and
// database connections come back to where they were.
// stableGoroutines returns the gateway's goroutine count once two
// readings in a row agree.
func stableGoroutines(t *testing.T, g *gateway) int {
	t.Helper()
	last := g.goroutines(t)
	poll.Until(t, 10*time.Second, "a stable goroutine count", func() (bool, string) {
		n := g.goroutines(t)
		stable := n == last
		last = n
		return stable, fmt.Sprintf("%d goroutines", n)
	})
	return last
}

func TestGatewayReloadUnderLoad(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(gatewayConfig{CacheTTL: "10m"})
	k := w.h.createKey("echo", "under load")
	warm(t, []*gateway{gw}, k)
	psql := w.h.dbConn()
	poll.Until(t, 10*time.Second, "one listener", func() (bool, string) {
		n := feedConnections(t, psql)
		return n == 1, fmt.Sprintf("%d listeners", n)
	})

	connections := func() int {
		return queryInt(t, psql, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	}
	// Keep-alive connections, ours to the gateway and its reverse proxy's
	// to the upstream, hold goroutines that are not keygate's: close them
	// before counting.
	quiesce := func() {
		httpClient.CloseIdleConnections()
		w.echo.CloseClientConnections()
	}
	quiesce()
	baseGoroutines := stableGoroutines(t, gw)
	baseConns := connections()

	config := gw.adminRequest(t, http.MethodGet, "/config/", nil, nil)
	if config.status != http.StatusOK {
		t.Fatalf("GET /config/: status %d", config.status)
	}
	var cfg map[string]any
	if err := json.Unmarshal(config.body, &cfg); err != nil {
		t.Fatal(err)
	}
	app := cfg["apps"].(map[string]any)["keygate"].(map[string]any)

	// Load: a few clients in a loop; every request must get a 200.
	load, stopLoad := traffic(gw, k.Key, 4)
	defer stopLoad()

	// Same settings (forced, as Caddy skips an identical config), then
	// another negative_ttl or database URL: a new store, cache and
	// listener, the old ones closed. The last reload goes back to the
	// first settings.
	database := app["database"].(string)
	otherURL, err := url.Parse(database)
	if err != nil {
		t.Fatal(err)
	}
	q := otherURL.Query()
	q.Set("connect_timeout", "5")
	otherURL.RawQuery = q.Encode()
	steps := []struct{ negativeTTL, database string }{
		{"", database}, {"", database}, {"6s", database}, {"6s", otherURL.String()},
		{"", otherURL.String()}, {"7s", database}, {"", database},
	}
	var lastReload time.Time // by the database's clock
	for i, step := range steps {
		if i == len(steps)-1 {
			if err := psql.QueryRow(t.Context(), `SELECT now()`).Scan(&lastReload); err != nil {
				t.Fatal(err)
			}
		}
		delete(app, "negative_ttl")
		if step.negativeTTL != "" {
			app["negative_ttl"] = step.negativeTTL
		}
		app["database"] = step.database
		body, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		before := load.count(http.StatusOK)
		r := gw.adminRequest(t, http.MethodPost, "/load", body, http.Header{
			"Content-Type":  {"application/json"},
			"Cache-Control": {"must-revalidate"},
		})
		if r.status != http.StatusOK {
			t.Fatalf("reload %d: status %d: %s", i+1, r.status, r.body)
		}
		poll.Until(t, 10*time.Second, "requests served after the reload", func() (bool, string) {
			served := load.count(http.StatusOK) - before
			return served > 20, fmt.Sprintf("%d requests served", served)
		})
	}
	stopLoad()
	hits, retried := load.all(), 0
	for _, h := range hits {
		if h.status != http.StatusOK {
			t.Errorf("a request failed during the reloads: status %d (%v)", h.status, h.err)
			break
		}
		if h.retried {
			retried++
		}
	}
	t.Logf("%d requests served during %d reloads; %d connections reset by a reload and retried", len(hits), len(steps), retried)
	quiesce()

	poll.Until(t, 10*time.Second, "one listener after the reloads", func() (bool, string) {
		n := feedConnections(t, psql)
		return n == 1, fmt.Sprintf("%d listeners", n)
	})
	// The last reload made a new store (the one before had other
	// settings): every connection of the stores before it is closed. Its
	// pool keeps what the load needed at once (lookups, the last_used
	// flush, the signing keys' refresh: pgxpool's 4 at most), and one
	// listener.
	poll.Until(t, 10*time.Second, "the connections of the closed stores gone", func() (bool, string) {
		old := queryInt(t, psql, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_start < $1`, lastReload)
		n := connections()
		return old == 0 && n <= 5, fmt.Sprintf("%d connections, %d of them opened before the last reload (%d before the reloads)", n, old, baseConns)
	})
	poll.Until(t, 10*time.Second, "goroutines back to the baseline", func() (bool, string) {
		n := gw.goroutines(t)
		return n <= baseGoroutines, fmt.Sprintf("%d goroutines, %d before the reloads", n, baseGoroutines)
	})
	// Still working, and still following the feed.
	gw.get(t, "/after", k.Key).echoed(t)
	w.h.mustCLI("keys", "revoke", k.ID)
	poll.Until(t, propagationBound, "a revocation applied after the reloads", func() (bool, string) {
		r := gw.get(t, "/revoked", k.Key)
		return r.status == http.StatusUnauthorized, fmt.Sprintf("status %d", r.status)
	})
}
