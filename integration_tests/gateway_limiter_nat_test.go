package integration_tests

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/poll"
	"github.com/keygate/keygate/keystore"
)

// TestFailedAuthLimiterSparesCachedKeys: behind NAT, many clients share
// 127.0.0.1 here. One of them sends junk keys until the address is over
// failed_auth_limit; the others' keys, valid in the cache, still get 200,
// while a key the gateway has not seen yet, and more junk, get 429
// without a store lookup.
func TestFailedAuthLimiterSparesCachedKeys(t *testing.T) {
	onBothStores(t, func(t *testing.T, _ string, h *harness) {
		w := newWorldOn(t, h)
		neighbour := w.h.createKey("echo", "neighbour")
		late := w.h.createKey("echo", "late")
		gw := w.start(gatewayConfig{FailedAuthLimit: "3", CacheTTL: "5m"})
		// The follower drops the cache when it starts, and trusts
		// it from its first record in the fleet table on: cache
		// after that.
		poll.Until(t, 10*time.Second, "the gateway live in the fleet", func() (bool, string) {
			rows := w.h.fleet()
			return len(rows) == 1 && rows[0].Status == "live", fmt.Sprint(statuses(rows))
		})
		gw.get(t, "/before", neighbour.Key).echoed(t)

		junk, _, err := keystore.GenerateKey(nil, keystore.DefaultPrefix)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if r := gw.get(t, "/guess", junk); r.status != http.StatusUnauthorized {
				t.Fatalf("an unknown key: status %d, want 401", r.status)
			}
		}
		lookups := func() float64 { return gw.scrapeMetrics(t)["keygate_store_lookup_duration_seconds_count"] }
		before := lookups()
		for range 3 {
			gw.get(t, "/after", neighbour.Key).echoed(t)
		}
		for what, key := range map[string]string{"junk": junk, "an uncached valid key": late.Key, "no key": ""} {
			if r := gw.get(t, "/after", key); r.status != http.StatusTooManyRequests {
				t.Errorf("over the limit, %s: status %d, want 429", what, r.status)
			}
		}
		if n := lookups() - before; n != 0 {
			t.Errorf("the limited address cost %v store lookups, want 0", n)
		}
		assertNoSecretInLog(t, gw)
	})
}
