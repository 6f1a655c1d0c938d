package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/keygate/keygate/keystore"
)

// memLookuper is an in-memory key store for the tests of what the handler
// does with the verifier's answers (headers, responses, placeholders, the
// log), which does not depend on the database; the tests that go through
// PostgreSQL are in e2e_test.go.
type memLookuper struct {
	mu      sync.Mutex
	creds   map[keystore.Hash]keystore.Credential
	err     error
	lookups atomic.Int64
}

func (m *memLookuper) LookupCredential(_ context.Context, h keystore.Hash) (keystore.Credential, error) {
	m.lookups.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return keystore.Credential{}, m.err
	}
	c, ok := m.creds[h]
	if !ok {
		return keystore.Credential{}, keystore.ErrNotFound
	}
	return c, nil
}

// fixtureNow is the clock of the handler tests.
var fixtureNow = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

// fixture is a handler over an in-memory store holding one key of each
// kind, and the log it writes to.
type fixture struct {
	t     testing.TB
	store *memLookuper
	app   *App
	logs  *observer.ObservedLogs

	valid, revoked, expired, otherIntegration string // keys
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{t: t, store: &memLookuper{creds: map[keystore.Hash]keystore.Credential{}}}
	f.valid = f.addKey(keystore.Credential{KeyID: "kid_valid0000000000000", KeyName: "ci runner", IntegrationID: "billing", BaseURL: "http://billing.internal:8080/api/v1/"})
	f.revoked = f.addKey(keystore.Credential{KeyID: "kid_revoked00000000000", KeyName: "old", IntegrationID: "billing", BaseURL: "http://billing.internal:8080/api/v1", RevokedAt: fixtureNow.Add(-time.Hour)})
	f.expired = f.addKey(keystore.Credential{KeyID: "kid_expired00000000000", KeyName: "temp", IntegrationID: "billing", BaseURL: "http://billing.internal:8080/api/v1", ExpiresAt: fixtureNow.Add(-time.Second)})
	f.otherIntegration = f.addKey(keystore.Credential{KeyID: "kid_search000000000000", KeyName: "search bot", IntegrationID: "search", BaseURL: "https://search.example.com"})

	verifier, err := keystore.NewVerifier(f.store, keystore.VerifierConfig{
		MaxCost: 1 << 20,
		Now:     func() time.Time { return fixtureNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(verifier.Close)
	f.app = &App{KeyPrefix: keystore.DefaultPrefix, shared: &sharedStore{verifier: verifier}, targets: new(targetCache)}
	return f
}

// addKey stores a credential under a fresh key and returns the key.
func (f *fixture) addKey(c keystore.Credential) string {
	key, hash, err := keystore.GenerateKey(nil, keystore.DefaultPrefix)
	if err != nil {
		f.t.Fatal(err)
	}
	f.store.mu.Lock()
	f.store.creds[hash] = c
	f.store.mu.Unlock()
	return key
}

// handler returns a provisioned handler logging to f.logs (replacing the
// previous one).
func (f *fixture) handler(integration string, forward bool) *Handler {
	f.t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	f.logs = logs
	h := &Handler{Integration: integration, ForwardCredentials: forward}
	if err := h.setup(f.app, zap.New(core)); err != nil {
		f.t.Fatal(err)
	}
	return h
}

// result is what one request through the handler did.
type result struct {
	resp     *http.Response
	body     string
	nextRan  bool
	upstream http.Header // the request headers next saw
	repl     *caddy.Replacer
	req      *http.Request
	err      error
}

// newRequest returns a request prepared as Caddy's server does, with the
// given Authorization header values.
func newRequest(auth ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/things?x=1", nil)
	r.Host = "gw.example.com"
	r.RemoteAddr = "192.0.2.7:51234"
	for _, a := range auth {
		r.Header.Add("Authorization", a)
	}
	return r
}

func serveKeygate(h *Handler, r *http.Request) result {
	w := httptest.NewRecorder()
	repl := caddy.NewReplacer()
	r = caddyhttp.PrepareRequest(r, repl, w, nil)
	var res result
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		res.nextRan = true
		res.upstream = r.Header.Clone()
		w.WriteHeader(http.StatusOK)
		return nil
	})
	res.err = h.ServeHTTP(w, r, next)
	res.resp = w.Result()
	res.body = w.Body.String()
	res.repl, res.req = repl, r
	return res
}

func bearer(key string) string { return "Bearer " + key }

func TestResponses(t *testing.T) {
	f := newFixture(t)
	const (
		missing      = `Bearer realm="keygate"`
		invalidToken = `Bearer realm="keygate", error="invalid_token"`
		scope        = `Bearer realm="keygate", error="insufficient_scope"`
	)
	for _, tc := range []struct {
		name        string
		integration string
		auth        []string
		down        bool // the store fails
		status      int
		challenge   string
		errCode     string
		reason      string
		level       zapcore.Level
		keyID       string
	}{
		{"no credentials", "", nil, false, 401, missing, "missing_credentials", "missing", zapcore.InfoLevel, ""},
		{"basic credentials", "", []string{"Basic dXNlcjpwYXNz"}, false, 401, missing, "missing_credentials", "missing", zapcore.InfoLevel, ""},
		{"malformed key", "", []string{"Bearer kg_notakey"}, false, 401, invalidToken, "invalid_token", "malformed", zapcore.InfoLevel, ""},
		{"unknown key", "", []string{"Bearer " + mustKey(t)}, false, 401, invalidToken, "invalid_token", "unknown", zapcore.InfoLevel, ""},
		{"revoked key", "", []string{bearer(f.revoked)}, false, 401, invalidToken, "invalid_token", "revoked", zapcore.WarnLevel, "kid_revoked00000000000"},
		{"expired key", "", []string{bearer(f.expired)}, false, 401, invalidToken, "invalid_token", "expired", zapcore.WarnLevel, "kid_expired00000000000"},
		{"key of another integration", "billing", []string{bearer(f.otherIntegration)}, false, 403, scope, "insufficient_scope", "wrong_integration", zapcore.WarnLevel, "kid_search000000000000"},
		{"store unreachable", "", []string{bearer(mustKey(t))}, true, 503, "", "temporarily_unavailable", "store_unavailable", zapcore.InfoLevel, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ff := f
			if tc.down {
				ff = newFixture(t)
				ff.store.err = errors.New("connection refused")
			}
			res := serveKeygate(ff.handler(tc.integration, false), newRequest(tc.auth...))
			if res.err != nil {
				t.Fatalf("ServeHTTP returned %v; a refusal is written, not returned", res.err)
			}
			if res.nextRan {
				t.Fatal("next handler ran for a refused request")
			}
			if res.resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", res.resp.StatusCode, tc.status)
			}
			if got := res.resp.Header.Values("WWW-Authenticate"); tc.challenge == "" && len(got) != 0 || tc.challenge != "" && (len(got) != 1 || got[0] != tc.challenge) {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if got := res.resp.Header.Get("Retry-After"); (tc.status == 503) != (got != "") {
				t.Errorf("Retry-After = %q with status %d", got, tc.status)
			}
			if got := res.resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			var body map[string]string
			if err := json.Unmarshal([]byte(res.body), &body); err != nil || len(body) != 1 || body["error"] != tc.errCode {
				t.Errorf("body = %q (%v), want {\"error\":%q}", res.body, err, tc.errCode)
			}

			entries := ff.logs.All()
			if len(entries) != 1 {
				t.Fatalf("%d log entries, want 1: %v", len(entries), entries)
			}
			e := entries[0]
			fields := e.ContextMap()
			if e.Message != "request refused" || e.Level != tc.level || fields["reason"] != tc.reason {
				t.Errorf("log entry %q level %s reason %v, want level %s reason %s", e.Message, e.Level, fields["reason"], tc.level, tc.reason)
			}
			if tc.keyID != "" && fields["key_id"] != tc.keyID {
				t.Errorf("key_id = %v, want %s", fields["key_id"], tc.keyID)
			}
			if tc.keyID == "" && fields["key_id"] != nil {
				t.Errorf("key_id = %v for an unidentified key", fields["key_id"])
			}
			for _, name := range []string{"remote_ip", "method", "host", "uri"} {
				if fields[name] == nil || fields[name] == "" {
					t.Errorf("log entry lacks %s: %v", name, fields)
				}
			}
			if fields["remote_ip"] != "192.0.2.7" {
				t.Errorf("remote_ip = %v", fields["remote_ip"])
			}
			for _, a := range tc.auth {
				assertNoSecret(t, entries, a)
			}
		})
	}
}

func mustKey(t testing.TB) string {
	key, _, err := keystore.GenerateKey(nil, keystore.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// assertNoSecret fails if any log entry holds credentials, the key in it,
// or any 12-character piece of the key's secret part.
func assertNoSecret(t *testing.T, entries []observer.LoggedEntry, credentials string) {
	t.Helper()
	if credentials == "" {
		return
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	_, key, _ := strings.Cut(credentials, " ")
	_, secret, _ := strings.Cut(key, "_")
	for _, e := range entries {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		line := buf.String()
		buf.Free()
		if strings.Contains(line, credentials) || key != "" && strings.Contains(line, key) {
			t.Errorf("log line holds the credentials: %s", line)
		}
		for i := 0; i+12 <= len(secret); i++ {
			if strings.Contains(line, secret[i:i+12]) {
				t.Errorf("log line holds a piece of the key's secret: %s", line)
				break
			}
		}
	}
}

func TestBearerParsing(t *testing.T) {
	f := newFixture(t)
	long := "Bearer " + strings.Repeat("A", 10<<10)
	for _, tc := range []struct {
		name   string
		auth   []string
		status int
		reason string
	}{
		{"lowercase scheme", []string{"bearer " + f.valid}, 200, ""},
		{"uppercase scheme", []string{"BEARER " + f.valid}, 200, ""},
		{"several spaces", []string{"Bearer   " + f.valid}, 200, ""},
		// HTTP/1.1 strips OWS around a field value, HTTP/2 and 3 do not:
		// the handler trims it so that every protocol agrees.
		{"trailing space", []string{"Bearer " + f.valid + " "}, 200, ""},
		{"trailing tab", []string{"Bearer " + f.valid + "\t"}, 200, ""},
		{"leading and trailing OWS", []string{" \tBearer " + f.valid + " \t "}, 200, ""},
		{"only whitespace", []string{" \t "}, 401, "missing"},
		{"empty header", []string{""}, 401, "missing"},
		{"scheme only", []string{"Bearer"}, 401, "malformed"},
		{"scheme and space", []string{"Bearer "}, 401, "malformed"},
		{"10 KB value", []string{long}, 401, "malformed"},
		{"non-UTF-8 bytes", []string{"Bearer kg_\xff\xfe\x80" + strings.Repeat("a", 46)}, 401, "malformed"},
		{"two tokens", []string{"Bearer " + f.valid + " " + f.valid}, 401, "malformed"},
		{"tab inside", []string{"Bearer " + f.valid + "\tx"}, 401, "malformed"},
		{"two headers", []string{bearer(f.valid), bearer(f.valid)}, 401, "malformed"},
		{"basic", []string{"Basic " + f.valid}, 401, "missing"},
		{"scheme glued to key", []string{"Bearer" + f.valid}, 401, "missing"},
		{"wrong prefix", []string{"Bearer xx" + f.valid[2:]}, 401, "malformed"},
		{"bad checksum", []string{"Bearer " + f.valid[:len(f.valid)-1] + flipChar(f.valid[len(f.valid)-1])}, 401, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.store.lookups.Load()
			res := serveKeygate(f.handler("", false), newRequest(tc.auth...))
			if res.resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", res.resp.StatusCode, tc.status)
			}
			if tc.status != 200 {
				if got := f.logs.All()[0].ContextMap()["reason"]; got != tc.reason {
					t.Errorf("reason = %v, want %s", got, tc.reason)
				}
				if n := f.store.lookups.Load() - before; n != 0 {
					t.Errorf("%d store lookups for malformed credentials", n)
				}
				for _, a := range tc.auth {
					assertNoSecret(t, f.logs.All(), a)
				}
			}
		})
	}
}

func flipChar(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestAllowedRequest(t *testing.T) {
	f := newFixture(t)
	r := newRequest(bearer(f.valid))
	r.Header.Set("X-Keygate-Key-Id", "kid_forged")
	r.Header.Set("X-Keygate-Integration", "admin")
	r.Header.Set("X-Keygate-Anything", "x")
	r.Header["x-keygate-key-name"] = []string{"not canonical"}
	r.Header.Set("X-Other", "kept")
	res := serveKeygate(f.handler("", false), r)
	if res.err != nil || !res.nextRan || res.resp.StatusCode != 200 {
		t.Fatalf("status %d, next ran %v, err %v; body %s", res.resp.StatusCode, res.nextRan, res.err, res.body)
	}

	want := map[string][]string{
		"X-Keygate-Key-Id":      {"kid_valid0000000000000"},
		"X-Keygate-Key-Name":    {"ci runner"},
		"X-Keygate-Integration": {"billing"},
	}
	for name, vals := range res.upstream {
		if isKeygateHeader(name) && !sameStrings(want[name], vals) {
			t.Errorf("upstream header %s = %q, want %q", name, vals, want[name])
		}
	}
	for name, vals := range want {
		if !sameStrings(res.upstream[name], vals) {
			t.Errorf("upstream header %s = %q, want %q", name, res.upstream[name], vals)
		}
	}
	if res.upstream.Get("X-Other") != "kept" {
		t.Error("an unrelated header was removed")
	}
	if _, ok := res.upstream["Authorization"]; ok {
		t.Error("Authorization was forwarded without forward_credentials")
	}

	for ph, want := range map[string]string{
		"keygate.key.id":               "kid_valid0000000000000",
		"keygate.key.name":             "ci runner",
		"keygate.integration.id":       "billing",
		"keygate.integration.base_url": "http://billing.internal:8080/api/v1/",
		"keygate.integration.scheme":   "http",
		"keygate.integration.host":     "billing.internal:8080",
		"keygate.integration.path":     "/api/v1",
		"http.auth.user.id":            "kid_valid0000000000000",
	} {
		if got, ok := res.repl.GetString(ph); !ok || got != want {
			t.Errorf("{%s} = %q (set %v), want %q", ph, got, ok, want)
		}
	}

	entries := f.logs.All()
	if len(entries) != 1 || entries[0].Level != zapcore.DebugLevel || entries[0].ContextMap()["key_id"] != "kid_valid0000000000000" {
		t.Errorf("log = %v, want one debug entry with the key id", entries)
	}
	assertNoSecret(t, entries, bearer(f.valid))
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestIntegrationPlaceholdersDefaultPort(t *testing.T) {
	f := newFixture(t)
	res := serveKeygate(f.handler("", false), newRequest(bearer(f.otherIntegration)))
	for ph, want := range map[string]string{
		"keygate.integration.scheme": "https",
		"keygate.integration.host":   "search.example.com:443",
		"keygate.integration.path":   "",
	} {
		if got, _ := res.repl.GetString(ph); got != want {
			t.Errorf("{%s} = %q, want %q", ph, got, want)
		}
	}
}

func TestForwardCredentials(t *testing.T) {
	f := newFixture(t)
	for _, forward := range []bool{false, true} {
		r := newRequest(bearer(f.valid))
		r.Header.Set("Connection", "keep-alive, Authorization")
		res := serveKeygate(f.handler("", forward), r)
		got, ok := res.upstream["Authorization"]
		if forward && (!ok || got[0] != bearer(f.valid)) {
			t.Errorf("forward_credentials: Authorization = %q", got)
		}
		if !forward && ok {
			t.Errorf("Authorization forwarded without forward_credentials")
		}
		if c := res.upstream.Values("Connection"); !sameStrings(c, []string{"keep-alive"}) {
			t.Errorf("forward %v: Connection = %q, want keep-alive alone", forward, c)
		}
	}
}

func TestConnectionCannotNameIdentityHeaders(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		conn []string
		want []string
	}{
		{[]string{"X-Keygate-Key-Id"}, nil},
		{[]string{"x-keygate-key-name, Upgrade", "X-KEYGATE-INTEGRATION"}, []string{"Upgrade"}},
		{[]string{"close"}, []string{"close"}},
		{[]string{" keep-alive ,X-Keygate-Key-Id,, x-custom"}, []string{"keep-alive, x-custom"}},
	} {
		r := newRequest(bearer(f.valid))
		r.Header["Connection"] = tc.conn
		res := serveKeygate(f.handler("", false), r)
		if got := res.upstream["Connection"]; !sameStrings(got, tc.want) {
			t.Errorf("Connection %q became %q, want %q", tc.conn, got, tc.want)
		}
		if res.upstream.Get(HeaderKeyID) == "" {
			t.Errorf("identity header missing")
		}
	}
}

func TestPinnedIntegration(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name, integration, captured string
		status                      int
		pinned                      string // as logged
	}{
		{"literal match", "billing", "", 200, ""},
		{"literal mismatch", "search", "", 403, "search"},
		{"placeholder match", "{http.regexp.tenant.1}", "billing", 200, ""},
		{"placeholder mismatch", "{http.regexp.tenant.1}", "search", 403, "search"},
		{"placeholder unresolved", "{http.regexp.tenant.1}", "", 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := f.handler(tc.integration, false)
			w := httptest.NewRecorder()
			repl := caddy.NewReplacer()
			r := caddyhttp.PrepareRequest(newRequest(bearer(f.valid)), repl, w, nil)
			if tc.captured != "" {
				repl.Set("http.regexp.tenant.1", tc.captured)
			}
			err := h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil }))
			if err != nil || w.Code != tc.status {
				t.Fatalf("status %d err %v, want %d", w.Code, err, tc.status)
			}
			if tc.status == 403 {
				fields := f.logs.All()[0].ContextMap()
				if fields["integration"] != "billing" || fields["route_integration"] != tc.pinned {
					t.Errorf("log fields %v", fields)
				}
			}
		})
	}
}

func TestInvalidIntegrationConfig(t *testing.T) {
	f := newFixture(t)
	h := &Handler{Integration: "Not Valid"}
	if err := h.setup(f.app, zap.NewNop()); err == nil {
		t.Error("setup accepted an invalid integration id")
	}
}

func TestInvalidBaseURLIsAServerError(t *testing.T) {
	f := newFixture(t)
	key := f.addKey(keystore.Credential{KeyID: "kid_broken000000000000", IntegrationID: "broken", BaseURL: "ftp://user:hunter2@x/"})
	res := serveKeygate(f.handler("", false), newRequest(bearer(key)))
	var he caddyhttp.HandlerError
	if !errors.As(res.err, &he) || he.StatusCode != http.StatusBadGateway || res.nextRan {
		t.Fatalf("err = %v, next ran %v; want a 502 handler error", res.err, res.nextRan)
	}
	if strings.Contains(res.err.Error(), "hunter2") {
		t.Errorf("error shows the base URL's password: %v", res.err)
	}
}

func TestKeyInURIIsRedactedFromLog(t *testing.T) {
	f := newFixture(t)
	r := httptest.NewRequest(http.MethodGet, "/x?api_key="+f.valid+"&kg_short=1", nil)
	serveKeygate(f.handler("", false), r)
	entries := f.logs.All()
	uri, _ := entries[0].ContextMap()["uri"].(string)
	if uri != "/x?api_key=kg_REDACTED&kg_short=1" {
		t.Errorf("uri = %q", uri)
	}
	assertNoSecret(t, entries, bearer(f.valid))
}

func TestRedactKeys(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "",
		"/plain":                      "/plain",
		"/kg_admin":                   "/kg_admin",
		"/a/kg_0123456789abcdefXYZ/b": "/a/kg_REDACTED/b",
		"kg_0123456789abcdef kg_0123456789abcdef": "kg_REDACTED kg_REDACTED",
		"kgkg_0123456789abcdef":                   "kgkg_REDACTED",
	} {
		if got := redactKeys(in, "kg"); got != want {
			t.Errorf("redactKeys(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBearerTokenDoesNotAllocate(t *testing.T) {
	for _, v := range []string{"Bearer kg_abc", " Bearer kg_abc \t"} {
		hdr := http.Header{"Authorization": {v}}
		if n := testing.AllocsPerRun(100, func() { bearerToken(hdr) }); n != 0 {
			t.Errorf("bearerToken(%q) allocates %v times", v, n)
		}
	}
}

// BenchmarkHandlerCacheHit measures an authenticated request whose key is
// cached, on a pinned route. "fresh" gives every request its own context,
// replacer and headers as Caddy's server does (their garbage, and the
// replacer map growing for our placeholders, count); "reused" serves one
// prepared request again and again, which leaves the handler's own cost.
func BenchmarkHandlerCacheHit(b *testing.B) {
	f := newFixture(b)
	h := f.handler("billing", false)
	h.logger = zap.NewNop()
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	w := httptest.NewRecorder()
	auth := []string{bearer(f.valid)}
	// Warm the cache, and give ristretto's asynchronous Set time to land.
	for i := 0; i < 50; i++ {
		serveKeygate(h, newRequest(auth...))
		time.Sleep(time.Millisecond)
	}
	prepare := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/v1/things", nil)
		r.Header = http.Header{"Authorization": auth, "Accept": {"*/*"}, "User-Agent": {"bench"}}
		return caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, nil)
	}
	lookups := f.store.lookups.Load()
	defer func() {
		if n := f.store.lookups.Load() - lookups; n != 0 {
			b.Fatalf("%d store lookups: not a cache hit", n)
		}
	}()

	b.Run("fresh", func(b *testing.B) {
		const batch = 1024
		reqs := make([]*http.Request, batch)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if i%batch == 0 {
				b.StopTimer()
				for j := range reqs {
					reqs[j] = prepare()
				}
				b.StartTimer()
			}
			if err := h.ServeHTTP(w, reqs[i%batch], next); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reused", func(b *testing.B) {
		r := prepare()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			r.Header["Authorization"] = auth
			caddyhttp.SetVar(r.Context(), targetVar, nil) // as a new request
			if err := h.ServeHTTP(w, r, next); err != nil {
				b.Fatal(err)
			}
		}
		if r.Header.Get(HeaderKeyID) == "" {
			b.Fatal("request was not authenticated")
		}
	})
}

func BenchmarkVerifyCacheHit(b *testing.B) {
	f := newFixture(b)
	hash, err := keystore.ParseKey(keystore.DefaultPrefix, f.valid)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		_, _ = f.app.Verify(ctx, hash)
		time.Sleep(time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.app.Verify(ctx, hash); err != nil {
			b.Fatal(err)
		}
	}
}

func TestNestedHandlers(t *testing.T) {
	f := newFixture(t)
	outer := f.handler("", false)
	for _, tc := range []struct {
		inner  string
		status int
	}{
		{"billing", 200},
		{"search", 403},
	} {
		inner := &Handler{Integration: tc.inner}
		if err := inner.setup(f.app, outer.logger); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		r := caddyhttp.PrepareRequest(newRequest(bearer(f.valid)), caddy.NewReplacer(), w, nil)
		var reached bool
		err := outer.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			return inner.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
				reached = true
				return nil
			}))
		}))
		if err != nil || w.Code != tc.status || reached != (tc.status == 200) {
			t.Errorf("inner pin %s: status %d, reached %v, err %v; want %d", tc.inner, w.Code, reached, err, tc.status)
		}
		if tc.status == 403 {
			entries := f.logs.All()
			fields := entries[len(entries)-1].ContextMap()
			if fields["reason"] != "wrong_integration" || fields["key_id"] != "kid_valid0000000000000" || fields["route_integration"] != "search" {
				t.Errorf("log fields %v", fields)
			}
		}
	}
}
