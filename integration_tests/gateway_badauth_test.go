package integration_tests

import (
	"net/http"
	"strings"
	"testing"
)

func TestGatewayBadAuthorizationValues(t *testing.T) {
	startedWorlds(t, func(t *testing.T, w *world, gw *gateway) {
		k := w.h.createKey("echo", "bad values")
		other := w.h.createKey("echo", "another")

		cases := []struct {
			name   string
			values []string // Authorization headers, in order
		}{
			{"empty", []string{""}},
			{"scheme only", []string{"Bearer"}},
			{"scheme and space", []string{"Bearer "}},
			{"10 KB token", []string{"Bearer " + strings.Repeat("A", 10<<10)}},
			{"10 KB key-like token", []string{"Bearer kg_" + strings.Repeat("a", 10<<10)}},
			{"non-UTF-8 bytes", []string{"Bearer kg_\xff\xfe\xfd\x80abc"}},
			{"non-UTF-8 key", []string{"Bearer " + k.Key[:20] + "\xff" + k.Key[21:]}},
			{"wrong scheme", []string{"Token " + k.Key}},
			{"Basic with a key", []string{"Basic " + k.Key}},
			{"key without scheme", []string{k.Key}},
			{"two keys", []string{"Bearer " + k.Key, "Bearer " + other.Key}},
			{"key and garbage", []string{"Bearer " + k.Key, "Bearer nonsense"}},
			{"extra token", []string{"Bearer " + k.Key + " " + k.Key}},
		}
		lookups := func() float64 { return gw.scrapeMetrics(t)["keygate_store_lookup_duration_seconds_count"] }
		before := lookups()
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := gw.request(t, http.MethodGet, "/bad", "", func(req *http.Request) {
					req.Header["Authorization"] = tc.values
				})
				if r.status < 400 || r.status > 499 {
					t.Errorf("status %d, want 4xx", r.status)
				}
			})
		}
		if n := w.echo.hits.Load(); n != 0 {
			t.Errorf("%d bad requests reached the upstream", n)
		}
		// Not one of them is a single well-formed key: none may cost a lookup.
		if n := lookups() - before; n != 0 {
			t.Errorf("the bad Authorization values cost %v store lookups, want 0", n)
		}
		// The gateway is still fine.
		if e := gw.get(t, "/after", k.Key).echoed(t); e.Path != "/v1/after" {
			t.Errorf("after the bad requests the upstream saw %s, want /v1/after", e.Path)
		}
		// ... and the counter above does count: the first use of a key does.
		if n := lookups() - before; n != 1 {
			t.Errorf("the first use of a key cost %v store lookups, want 1", n)
		}
		assertNoSecretInLog(t, gw)
	})
}
