package caddymodule

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
)

// limitedFixture is a fixture whose app refuses a client after limit
// failed authentications within a minute, on a clock the test moves.
func limitedFixture(t *testing.T, limit int) (*fixture, *time.Time) {
	t.Helper()
	f := newFixture(t)
	now := fixtureNow
	l, err := keystore.NewFailureLimiter(keystore.FailureLimiterConfig{
		Limit: limit, Window: time.Minute, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.app.failedAuth = l
	return f, &now
}

func fromIP(r *http.Request, ip string) *http.Request {
	r.RemoteAddr = ip + ":40000"
	return r
}

func TestFailedAuthLimiterRefusesBeforeAnyLookup(t *testing.T) {
	f, now := limitedFixture(t, 3)
	h := f.handler("", false)
	unknown := mustKey(t)
	limited0 := counterValue(t, metrics.refused["rate_limited"])
	for i := range 3 {
		res := serveKeygate(h, fromIP(newRequest(bearer(unknown)), "198.51.100.7"))
		if res.resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i+1, res.resp.StatusCode)
		}
	}
	lookups := f.store.lookups.Load()

	// Over the limit, even a valid key from that client is refused,
	// without a lookup, until the window ends.
	*now = now.Add(20 * time.Second)
	res := serveKeygate(h, fromIP(newRequest(bearer(f.valid)), "198.51.100.7"))
	if res.resp.StatusCode != http.StatusTooManyRequests || res.nextRan {
		t.Fatalf("over the limit: status %d (next ran: %v), want 429", res.resp.StatusCode, res.nextRan)
	}
	if got := res.resp.Header.Get("Retry-After"); got != "40" {
		t.Errorf("Retry-After %q, want 40 (the window's end)", got)
	}
	if res.resp.Header.Get("WWW-Authenticate") != "" || !strings.Contains(res.body, `"error"`) {
		t.Errorf("429 has WWW-Authenticate %q and body %q", res.resp.Header.Get("WWW-Authenticate"), res.body)
	}
	if f.store.lookups.Load() != lookups {
		t.Error("a refused client's request cost a store lookup")
	}
	entries := f.logs.FilterField(zap.String("reason", "rate_limited")).All()
	if len(entries) != 1 || entries[0].Level.String() != "info" {
		t.Errorf("auth log has %d rate_limited entries, want one at info", len(entries))
	}
	if got := counterValue(t, metrics.refused["rate_limited"]) - limited0; got != 1 {
		t.Errorf("rate_limited refusals counted: %v, want 1", got)
	}

	// Another client is not affected.
	if res := serveKeygate(h, fromIP(newRequest(bearer(f.valid)), "198.51.100.8")); !res.nextRan {
		t.Fatalf("another client: status %d, want it passed on", res.resp.StatusCode)
	}
	// Once the window ended, the client is served again.
	*now = now.Add(40 * time.Second)
	if res := serveKeygate(h, fromIP(newRequest(bearer(f.valid)), "198.51.100.7")); !res.nextRan {
		t.Fatalf("after the window: status %d, want it passed on", res.resp.StatusCode)
	}
}

func TestFailedAuthLimiterCountsOnlyFailedKeys(t *testing.T) {
	f, _ := limitedFixture(t, 2)
	h := f.handler("", false)
	// Missing credentials and real keys (revoked, expired, another
	// integration's) are not guesses.
	hp := f.handler("billing", false)
	for range 3 {
		serveKeygate(h, newRequest())
		serveKeygate(h, newRequest(bearer(f.revoked)))
		serveKeygate(h, newRequest(bearer(f.expired)))
		serveKeygate(hp, newRequest(bearer(f.otherIntegration)))
	}
	if res := serveKeygate(h, newRequest(bearer(f.valid))); !res.nextRan {
		t.Fatalf("after missing credentials and real keys: status %d, want it passed on", res.resp.StatusCode)
	}
	for _, key := range []string{mustKey(t), "kg_malformed"} {
		serveKeygate(h, newRequest(bearer(key)))
	}
	uncached := f.addKey(keystore.Credential{KeyID: "kid_uncached0000000000", KeyName: "new", IntegrationID: "billing", BaseURL: "http://billing.internal"})
	if res := serveKeygate(h, newRequest(bearer(uncached))); res.resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after an unknown and a malformed key: status %d, want 429", res.resp.StatusCode)
	}
}

// TestFailedAuthLimiterLetsCachedValidKeysThrough: behind NAT, one
// client's junk keys must not lock its neighbours out. A blocked address
// still gets through with a key that is valid in the cache; anything else
// from it (no key, a malformed, unknown or uncached key) is 429, and costs
// no lookup.
func TestFailedAuthLimiterLetsCachedValidKeysThrough(t *testing.T) {
	f, _ := limitedFixture(t, 3)
	h := f.handler("", false)
	const nat = "203.0.113.9"
	// A neighbour's valid key, used before the flood: cached.
	if res := serveKeygate(h, fromIP(newRequest(bearer(f.valid)), nat)); !res.nextRan {
		t.Fatalf("before the flood: status %d, want it passed on", res.resp.StatusCode)
	}
	junk := mustKey(t)
	for range 3 {
		serveKeygate(h, fromIP(newRequest(bearer(junk)), nat))
	}
	uncached := f.addKey(keystore.Credential{KeyID: "kid_uncached0000000000", KeyName: "new", IntegrationID: "billing", BaseURL: "http://billing.internal"})
	lookups := f.store.lookups.Load()
	for range 5 {
		if res := serveKeygate(h, fromIP(newRequest(bearer(f.valid)), nat)); !res.nextRan || res.resp.StatusCode != http.StatusOK {
			t.Fatalf("blocked address, cached valid key: status %d, want 200", res.resp.StatusCode)
		}
	}
	for name, auth := range map[string][]string{
		"unknown key":         {bearer(junk)},
		"another unknown key": {bearer(mustKey(t))},
		"valid uncached key":  {bearer(uncached)},
		"malformed key":       {bearer("kg_malformed")},
		"no key":              nil,
		"two headers":         {bearer(f.valid), bearer(f.valid)},
		"cached key, mangled": {bearer(f.valid[:len(f.valid)-1] + flipChar(f.valid[len(f.valid)-1]))},
	} {
		res := serveKeygate(h, fromIP(newRequest(auth...), nat))
		if res.resp.StatusCode != http.StatusTooManyRequests || res.nextRan {
			t.Errorf("blocked address, %s: status %d (next ran: %v), want 429", name, res.resp.StatusCode, res.nextRan)
		}
	}
	if n := f.store.lookups.Load() - lookups; n != 0 {
		t.Errorf("a blocked address cost %d store lookups, want none", n)
	}
	// A cached revoked key is a real key: refused as revoked, not counted.
	serveKeygate(h, fromIP(newRequest(bearer(f.revoked)), "198.51.100.1"))
	for range 3 {
		serveKeygate(h, fromIP(newRequest(bearer(mustKey(t))), "198.51.100.1"))
	}
	if res := serveKeygate(h, fromIP(newRequest(bearer(f.revoked)), "198.51.100.1")); res.resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("blocked address, cached revoked key: status %d, want 401", res.resp.StatusCode)
	}
}

func TestLimitsOff(t *testing.T) {
	l := Limits{FailedAuthLimit: -1}
	if err := l.provision(); err != nil {
		t.Fatal(err)
	}
	if l.failedAuth != nil {
		t.Fatal("failed_auth_limit off still builds a limiter")
	}
	if l.MaxConcurrentLookups != keystore.DefaultMaxConcurrentLookups {
		t.Fatalf("max_concurrent_lookups default %d", l.MaxConcurrentLookups)
	}
	if l.MaxLookupRate != keystore.DefaultMaxLookupRate {
		t.Fatalf("max_lookup_rate default %d", l.MaxLookupRate)
	}
	off := Limits{MaxLookupRate: -1}
	if err := off.provision(); err != nil || off.MaxLookupRate != -1 {
		t.Fatalf("max_lookup_rate off: %d, %v; want -1 kept", off.MaxLookupRate, err)
	}
}

func TestRetryAfterSecs(t *testing.T) {
	for wait, want := range map[time.Duration]int64{0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, time.Minute: 60} {
		if got := retryAfterSecs(wait); got != want {
			t.Errorf("retryAfterSecs(%v) = %d, want %d", wait, got, want)
		}
	}
}

func TestLimitsCaddyfile(t *testing.T) {
	var a App
	d := caddyfile.NewTestDispenser(`keygate {
		max_concurrent_lookups 8
		max_lookup_rate 200
		failed_auth_limit off
		failed_auth_window 30s
	}`)
	if err := a.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if a.MaxConcurrentLookups != 8 || a.MaxLookupRate != 200 || a.FailedAuthLimit != -1 || a.FailedAuthWindow != caddy.Duration(30*time.Second) {
		t.Fatalf("parsed %+v", a.Limits)
	}
	for _, bad := range []string{
		"max_concurrent_lookups 0", "max_concurrent_lookups off", "max_concurrent_lookups x",
		"max_lookup_rate 0", "max_lookup_rate -5", "max_lookup_rate 1.5", "max_lookup_rate",
		"failed_auth_limit -3", "failed_auth_limit", "failed_auth_window 0s", "failed_auth_limit 5 6",
	} {
		var a App
		if err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser("keygate {\n" + bad + "\n}")); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// counterValue reads a counter's value.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestLookupRateRefusal: past max_lookup_rate, a key that needs the store
// gets 503 with Retry-After, counted as a store_lookup_rate refusal, while
// cached keys still pass.
func TestLookupRateRefusal(t *testing.T) {
	f := newFixture(t)
	verifier, err := keystore.NewVerifier(f.store, keystore.VerifierConfig{
		MaxCost:       1 << 20,
		MaxLookupRate: 1,
		Now:           func() time.Time { return fixtureNow },
		Metrics:       metrics.verifier(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(verifier.Close)
	f.app.shared = &sharedStore{verifier: verifier}
	h := f.handler("", false)

	if res := serveKeygate(h, newRequest(bearer(f.valid))); res.resp.StatusCode != http.StatusOK {
		t.Fatalf("first lookup: status %d, want 200", res.resp.StatusCode)
	}
	before := counterValue(t, metrics.lookupRateLimit)
	res := serveKeygate(h, newRequest(bearer(mustKey(t))))
	if res.resp.StatusCode != http.StatusServiceUnavailable || res.resp.Header.Get("Retry-After") == "" {
		t.Fatalf("past the lookup rate: status %d, Retry-After %q; want 503 with Retry-After",
			res.resp.StatusCode, res.resp.Header.Get("Retry-After"))
	}
	if got := counterValue(t, metrics.lookupRateLimit) - before; got != 1 {
		t.Errorf("store_lookup_rate refusals: +%v, want +1", got)
	}
	if res := serveKeygate(h, newRequest(bearer(f.valid))); res.resp.StatusCode != http.StatusOK {
		t.Fatalf("cached key past the lookup rate: status %d, want 200", res.resp.StatusCode)
	}
}
