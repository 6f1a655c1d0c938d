package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/keygate/keygate/internal/poll"
	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/keystore/sqlite"
	"github.com/keygate/keygate/token"
)

func (m *memLookuper) LookupCredentialByID(_ context.Context, id string) (keystore.Credential, error) {
	m.lookups.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.creds {
		if c.KeyID == id {
			return c, nil
		}
	}
	return keystore.Credential{}, keystore.ErrNotFound
}

// withTokens gives the fixture's runtime a ring of signing keys in a real
// SQLite store, on the fixture's clock, and returns a token of the valid
// key.
func (f *fixture) withTokens(t testing.TB) string {
	t.Helper()
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	ring, err := token.NewRing(store, token.RingConfig{Now: func() time.Time { return fixtureNow }})
	if err != nil {
		t.Fatal(err)
	}
	if err := ring.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.app.runtime.UseTokens(ring); err != nil {
		t.Fatal(err)
	}
	raw, _, err := f.app.runtime.MintToken(keystore.Credential{KeyID: "kid_valid0000000000000", IntegrationID: "billing"}, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestHandlerTokens: a token of a valid key passes with the key's
// identity; a token of an exchange-only key passes while the key itself is
// refused with exchange_only.
func TestHandlerTokens(t *testing.T) {
	f := newFixture(t)
	tok := f.withTokens(t)
	h := f.handler("billing", false)
	w := httptest.NewRecorder()
	r := caddyhttp.PrepareRequest(newRequest(bearer(tok)), caddy.NewReplacer(), w, nil)
	reached := false
	if err := h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { reached = true; return nil })); err != nil {
		t.Fatal(err)
	}
	if !reached || r.Header.Get(HeaderKeyID) != "kid_valid0000000000000" {
		t.Fatalf("token request: reached %v, key id %q (status %d)", reached, r.Header.Get(HeaderKeyID), w.Code)
	}

	exchange := f.addKey(keystore.Credential{KeyID: "kid_exchange0000000000", KeyName: "x", IntegrationID: "billing", BaseURL: "http://billing.internal:8080", ExchangeOnly: true})
	if res := serveKeygate(h, newRequest(bearer(exchange))); res.resp.StatusCode != http.StatusUnauthorized || res.nextRan {
		t.Fatalf("exchange-only key at the edge: status %d, want 401", res.resp.StatusCode)
	}
	entries := f.logs.All()
	if fields := entries[len(entries)-1].ContextMap(); fields["reason"] != "exchange_only" || fields["credential"] != "key" {
		t.Fatalf("log fields %v", fields)
	}
	xtok, _, err := f.app.runtime.MintToken(keystore.Credential{KeyID: "kid_exchange0000000000", IntegrationID: "billing"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res := serveKeygate(h, newRequest(bearer(xtok))); !res.nextRan || res.upstream.Get(HeaderKeyID) != "kid_exchange0000000000" {
		t.Fatalf("exchange-only key's token: status %d, want it passed on", res.resp.StatusCode)
	}
}

// BenchmarkHandlerTokenVsKey serves a cached key and a cached token through
// the handler, taking turns in rounds so that the machine's noise falls on
// both, and reports token-hit/key-hit (want <= 1) and the token's first
// use, its signature check, in µs.
func BenchmarkHandlerTokenVsKey(b *testing.B) {
	f := newFixture(b)
	tok := f.withTokens(b)
	h := f.handler("billing", false)
	h.logger = zap.NewNop()
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	w := httptest.NewRecorder()
	prepare := func(cred string) (*http.Request, []string) {
		auth := []string{bearer(cred)}
		r := httptest.NewRequest(http.MethodGet, "/v1/things", nil)
		r.Header = http.Header{"Authorization": auth, "Accept": {"*/*"}, "User-Agent": {"bench"}}
		return caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, nil), auth
	}
	keyReq, keyAuth := prepare(f.valid)
	tokReq, tokAuth := prepare(tok)
	serve := func(r *http.Request, auth []string) {
		r.Header["Authorization"] = auth
		caddyhttp.SetVar(r.Context(), targetVar, nil)
		if err := h.ServeHTTP(w, r, next); err != nil {
			b.Fatal(err)
		}
		if r.Header.Get(HeaderKeyID) == "" {
			b.Fatal("request was not authenticated")
		}
	}
	for range 50 { // warm both caches past ristretto's admission
		serve(keyReq, keyAuth)
		serve(tokReq, tokAuth)
		time.Sleep(time.Millisecond)
	}
	lookups := f.store.lookups.Load()
	timed := func(r *http.Request, auth []string, n int) time.Duration {
		began := time.Now()
		for range n {
			serve(r, auth)
		}
		return time.Since(began)
	}
	const rounds, per = 20, 2000
	var keyTime, tokTime time.Duration
	for i := range rounds { // each goes first in half the rounds
		if i%2 == 0 {
			keyTime += timed(keyReq, keyAuth, per)
			tokTime += timed(tokReq, tokAuth, per)
		} else {
			tokTime += timed(tokReq, tokAuth, per)
			keyTime += timed(keyReq, keyAuth, per)
		}
	}
	if n := f.store.lookups.Load() - lookups; n != 0 {
		b.Fatalf("%d store lookups: not cache hits", n)
	}
	set := f.app.runtime.TokenKeys()
	const firstN = 500
	began := time.Now()
	for range firstN {
		if _, err := set.Verify(tok, fixtureNow); err != nil {
			b.Fatal(err)
		}
	}
	first := time.Since(began) / firstN
	b.ResetTimer()
	for b.Loop() {
		serve(tokReq, tokAuth)
	}
	b.ReportMetric(float64(tokTime)/float64(keyTime), "token-hit/key-hit")
	b.ReportMetric(float64(keyTime.Nanoseconds())/(rounds*per), "key-hit-ns")
	b.ReportMetric(float64(first.Nanoseconds())/1e3, "first-use-µs")
}

// TestTokenInURIIsRedactedFromLog: a token pasted into the URI is logged
// as kgt_REDACTED, none of its pieces left.
func TestTokenInURIIsRedactedFromLog(t *testing.T) {
	f := newFixture(t)
	tok := f.withTokens(t)
	h := f.handler("billing", false)
	r := newRequest()
	r.RequestURI = "/x?access_token=" + tok + "&y=1"
	serveKeygate(h, r)
	entries := f.logs.All()
	uri, _ := entries[len(entries)-1].ContextMap()["uri"].(string)
	if uri != "/x?access_token=kgt_REDACTED&y=1" {
		t.Fatalf("logged uri %q, want the token redacted whole", uri)
	}
}

// TestFailedAuthLimiterTokens: a blocked address gets through with a token
// cached as verified, and only with one: a valid token it never used
// before is 429 like an uncached key, with no signature checked for it.
func TestFailedAuthLimiterTokens(t *testing.T) {
	f, _ := limitedFixture(t, 3)
	tok := f.withTokens(t)
	h := f.handler("", false)
	const nat = "203.0.113.9"
	if res := serveKeygate(h, fromIP(newRequest(bearer(tok)), nat)); !res.nextRan {
		t.Fatalf("before the flood: status %d, want it passed on", res.resp.StatusCode)
	}
	fresh, _, err := f.app.runtime.MintToken(keystore.Credential{KeyID: "kid_valid0000000000000", IntegrationID: "billing"}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		serveKeygate(h, fromIP(newRequest(bearer(mustKey(t))), nat))
	}
	// ristretto applies a Set asynchronously: once it has, the token passes.
	poll.Until(t, 5*time.Second, "the blocked address's cached token passing", func() (bool, string) {
		res := serveKeygate(h, fromIP(newRequest(bearer(tok)), nat))
		return res.nextRan, http.StatusText(res.resp.StatusCode)
	})
	for name, cred := range map[string]string{"valid token never used here": fresh, "forged token": tok[:len(tok)-2] + "AA"} {
		if res := serveKeygate(h, fromIP(newRequest(bearer(cred)), nat)); res.resp.StatusCode != http.StatusTooManyRequests || res.nextRan {
			t.Errorf("blocked address, %s: status %d, want 429", name, res.resp.StatusCode)
		}
	}
	if res := serveKeygate(h, fromIP(newRequest(bearer(fresh)), "198.51.100.1")); !res.nextRan {
		t.Errorf("the fresh token from another address: status %d, want it passed on", res.resp.StatusCode)
	}
}
