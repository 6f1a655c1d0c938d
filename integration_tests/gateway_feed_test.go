package integration_tests

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate/internal/pgtest"
	"github.com/keygate/keygate/internal/poll"
)

// propagationBound is what the tests assert of the time from a
// revocation's commit to its refusal on every gateway: generous, for a
// loaded CI machine. The figures are logged.
const propagationBound = 2 * time.Second

// startGateways starts n gateways on the world's database whose cache
// TTL is long: only the change feed can bring a revocation in time.
func (w *world) startGateways(n int, cfg gatewayConfig) []*gateway {
	w.h.t.Helper()
	if cfg.CacheTTL == "" {
		cfg.CacheTTL = "10m"
	}
	gws := make([]*gateway, n)
	for i := range gws {
		gws[i] = w.start(cfg)
	}
	return gws
}

// createKeys creates n keys of integration echo through the command line,
// a few at a time.
func (h *harness) createKeys(n int) []createdKey {
	h.t.Helper()
	keys := make([]createdKey, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range keys {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			keys[i] = h.createKey("echo", "propagation")
		})
	}
	wg.Wait()
	if h.t.Failed() {
		h.t.FailNow()
	}
	return keys
}

// warm has every gateway allow every key, created after it started, once,
// so that they all cache them. A gateway applies the feed row of a key's
// creation, and a read that raced it is not kept in cache: each gateway
// must have applied it first.
func warm(t *testing.T, gws []*gateway, keys ...createdKey) {
	t.Helper()
	for _, g := range gws {
		poll.Until(t, 10*time.Second, "the gateway applying the creation of the keys", func() (bool, string) {
			created := make(map[string]bool)
			for _, e := range g.logEntries(t) {
				if e.str("msg") == "key changed" && e.str("op") == "insert" {
					created[e.str("key_id")] = true
				}
			}
			for _, k := range keys {
				if !created[k.ID] {
					return false, k.ID + " not applied yet"
				}
			}
			return true, ""
		})
		for _, k := range keys {
			g.get(t, "/warm", k.Key).echoed(t)
		}
	}
}

// TestRevocationPropagation revokes keys cached on three gateways sharing
// a database, by the command line and by plain SQL, and measures the time
// from each revocation to its refusal by all three.
func TestRevocationPropagation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gws := w.startGateways(3, gatewayConfig{})
	const n = 20
	keys := w.h.createKeys(n)
	warm(t, gws, keys...)
	psql := w.h.dbConn()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()

	var cli, sql []time.Duration
	for i, k := range keys {
		watches := make([]*refusalWatch, len(gws))
		for j, g := range gws {
			watches[j] = watchRefusal(g, client, k.Key, propagationBound+3*time.Second)
		}
		byCLI := i%2 == 0
		if byCLI {
			w.h.mustCLI("keys", "revoke", k.ID)
		} else if _, err := psql.Exec(context.Background(), `UPDATE keygate_keys SET revoked_at = now() WHERE id = $1`, k.ID); err != nil {
			t.Fatal(err)
		}
		// The feed row's changed_at is the start of the revoking
		// statement's transaction: just before its commit.
		var revokedAt time.Time
		if err := psql.QueryRow(context.Background(), `SELECT max(changed_at) FROM keygate_changes WHERE key_id = $1`, k.ID).Scan(&revokedAt); err != nil {
			t.Fatal(err)
		}
		var slowest time.Duration
		for j, watch := range watches {
			refusedAt, err := watch.wait()
			if err != nil {
				t.Fatalf("revocation %d, gateway %d: %v", i+1, j+1, err)
			}
			slowest = max(slowest, refusedAt.Sub(revokedAt))
		}
		if slowest > propagationBound {
			t.Errorf("revocation %d took %v to reach all three gateways, want at most %v", i+1, slowest, propagationBound)
		}
		if byCLI {
			cli = append(cli, slowest)
		} else {
			sql = append(sql, slowest)
		}
	}
	all := slices.Concat(cli, sql)
	for _, set := range []struct {
		name string
		d    []time.Duration
	}{{"all", all}, {"CLI", cli}, {"SQL", sql}} {
		slices.Sort(set.d)
		t.Logf("propagation to all 3 gateways, %s revocations (%d): p50 %v, p95 %v, max %v",
			set.name, len(set.d), percentile(set.d, 50), percentile(set.d, 95), set.d[len(set.d)-1])
	}
}

// TestRevocationWhileListenersCutOff terminates the listeners' backends
// and keeps them from reconnecting while a revocation commits: nobody
// hears its notification, and every gateway must still apply it once it
// is back.
func TestRevocationWhileListenersCutOff(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gws := w.startGateways(3, gatewayConfig{})
	k := w.h.createKey("echo", "revoked while cut off")
	warm(t, gws, k)
	psql := w.h.dbConn() // opened before connections are refused
	admin := connect(t, pgtest.Server(t).AdminURL())
	db := pgx.Identifier{databaseName(t, w.h.dbURL)}.Sanitize()
	allowConnections := func(allow bool) {
		t.Helper()
		if _, err := admin.Exec(context.Background(), `ALTER DATABASE `+db+` ALLOW_CONNECTIONS `+map[bool]string{true: "true", false: "false"}[allow]); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, 10*time.Second, "three listeners", func() (bool, string) {
		n := feedConnections(t, psql)
		return n == len(gws), fmt.Sprintf("%d listeners", n)
	})

	allowConnections(false)
	t.Cleanup(func() { allowConnections(true) })
	terminated := queryInt(t, psql, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, feedApplicationName)
	if terminated != len(gws) {
		t.Fatalf("terminated %d listeners, want %d", terminated, len(gws))
	}
	poll.Until(t, 10*time.Second, "listeners gone", func() (bool, string) {
		n := feedConnections(t, psql)
		return n == 0, fmt.Sprintf("%d listeners", n)
	})
	if _, err := psql.Exec(context.Background(), `UPDATE keygate_keys SET revoked_at = now() WHERE id = $1`, k.ID); err != nil {
		t.Fatal(err)
	}
	for i, g := range gws {
		// Cached, and nothing told the gateway yet.
		if r := g.get(t, "/cut-off", k.Key); r.status != http.StatusOK {
			t.Fatalf("gateway %d answered %d while its listener is cut off, want 200 from its cache", i+1, r.status)
		}
	}
	allowConnections(true)
	for i, g := range gws {
		poll.Until(t, 10*time.Second, fmt.Sprintf("gateway %d refusing the key revoked while it was cut off", i+1), func() (bool, string) {
			r := g.get(t, "/reconnected", k.Key)
			return r.status == http.StatusUnauthorized, fmt.Sprintf("status %d", r.status)
		})
		// The listener logs it once it also recorded the read in the
		// fleet table, a moment after it dropped the key.
		for _, msg := range []string{"change feed connection lost; reconnecting", "change feed reconnected"} {
			poll.Until(t, 5*time.Second, fmt.Sprintf("gateway %d logging %q", i+1, msg), func() (bool, string) {
				return g.logged(t, msg), "not logged"
			})
		}
	}
}
