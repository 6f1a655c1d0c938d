package integration_tests

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/poll"
	"github.com/keygate/keygate/keystore"
)

// metricSamples are the series of one scrape, by name with labels.
type metricSamples map[string]float64

// scrapeMetrics reads the gateway's Prometheus endpoint: Caddy's admin
// API's /metrics.
func (g *gateway) scrapeMetrics(t *testing.T) metricSamples {
	t.Helper()
	r := g.adminRequest(t, http.MethodGet, "/metrics", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", r.status)
	}
	s := metricSamples{}
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if line == "" || line[0] == '#' || i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("unparsable metrics line %q", line)
		}
		s[line[:i]] = v
	}
	return s
}

// TestGatewayMetrics: after allowed and refused requests, the admin
// endpoint's /metrics has every keygate_ series, with plausible values.
func TestGatewayMetrics(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(gatewayConfig{FailedAuthLimit: "20", LastUsedInterval: "100ms"})
	k := w.h.createKey("echo", "metrics")
	revoked := w.h.createKey("echo", "metrics revoked")
	w.h.mustCLI("keys", "revoke", revoked.ID)
	unknown, _, err := keystore.GenerateKey(nil, keystore.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	w.h.remember(unknown)

	for range 3 {
		gw.get(t, "/ok", k.Key).echoed(t)
	}
	gw.get(t, "/none", "")
	gw.get(t, "/revoked", revoked.Key)
	exchange := w.h.createKey("echo", "metrics exchange", "--exchange-only")
	gw.get(t, "/exchange-only", exchange.Key)
	getToken(t, w.h, gw, exchange)
	// Unknown keys up to failed_auth_limit, then a request refused with
	// 429 before any lookup.
	for range 20 {
		if r := gw.get(t, "/unknown", unknown); r.status != http.StatusUnauthorized {
			t.Fatalf("unknown key: status %d, want 401", r.status)
		}
	}
	// (A key valid in the cache would still get through.)
	r := gw.get(t, "/limited", unknown)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("after 20 failed attempts, the unknown key: status %d, Retry-After %q; want 429 with Retry-After",
			r.status, r.header.Get("Retry-After"))
	}

	// The valid key's uses reach the store in a last-used batch within
	// last_used_interval.
	var m metricSamples
	poll.Until(t, 10*time.Second, "a last-used batch written", func() (bool, string) {
		m = gw.scrapeMetrics(t)
		v := m["keygate_last_used_keys_written_total"]
		return v >= 1, fmt.Sprintf("keygate_last_used_keys_written_total = %v", v)
	})
	atLeast := func(series string, min float64) {
		t.Helper()
		v, ok := m[series]
		switch {
		case !ok:
			t.Errorf("no series %s", series)
		case v < min:
			t.Errorf("%s = %v, want at least %v", series, v, min)
		}
	}
	atMost := func(series string, max float64) {
		t.Helper()
		if v, ok := m[series]; !ok || v > max {
			t.Errorf("%s = %v (present: %v), want at most %v", series, v, ok, max)
		}
	}
	atLeast(`keygate_auth_requests_total{reason="",result="allowed"}`, 3)
	atLeast(`keygate_auth_requests_total{reason="missing",result="refused"}`, 1)
	atLeast(`keygate_auth_requests_total{reason="revoked",result="refused"}`, 1)
	atLeast(`keygate_auth_requests_total{reason="unknown",result="refused"}`, 20)
	atLeast(`keygate_auth_requests_total{reason="rate_limited",result="refused"}`, 1)
	atLeast(`keygate_auth_requests_total{reason="exchange_only",result="refused"}`, 1)
	atLeast("keygate_tokens_issued_total", 1)
	atMost(`keygate_auth_requests_total{reason="store_unavailable",result="refused"}`, 0)
	atLeast(`keygate_limiter_refusals_total{limiter="failed_auth"}`, 1)
	atMost(`keygate_limiter_refusals_total{limiter="store_lookups"}`, 0)
	// The key, the revoked key and the unknown key were each looked up
	// once: the cache answered the rest, the negative cache included.
	atLeast("keygate_cache_hits_total", 2+19)
	atLeast("keygate_cache_misses_total", 3)
	atLeast("keygate_store_lookup_duration_seconds_count", 3)
	atMost("keygate_store_lookup_duration_seconds_count", 6)
	atLeast(`keygate_store_lookup_duration_seconds_bucket{le="+Inf"}`, 3)
	atLeast("keygate_store_lookup_duration_seconds_sum", 0)
	atMost("keygate_store_lookups_in_flight", 0)
	atLeast("keygate_store_lookups_in_flight", 0)
	// The feed reports every second or so.
	atLeast("keygate_feed_lag_seconds", 0)
	atMost("keygate_feed_lag_seconds", 5)
	atMost("keygate_feed_reconnects_total", 0)
	atLeast("keygate_feed_reconnects_total", 0)
	// Two keys were used; batches are written only when keys were used.
	atLeast("keygate_last_used_flushes_total", 1)
	atLeast("keygate_last_used_keys_written_total", 1)
	if f, k := m["keygate_last_used_flushes_total"], m["keygate_last_used_keys_written_total"]; k > 2*f {
		t.Errorf("%v keys written by %v batches of the two keys used (the exchange-only one at the token endpoint)", k, f)
	}
}
