package caddymodule

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/keygate/keygate/internal/pgtest"
	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/keystore/postgres"
)

func TestGetUpstreams(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		baseURL, dial string
	}{
		{"http://billing.internal:8080/api/v1", "billing.internal:8080"},
		{"http://billing.internal", "billing.internal:80"},
		{"https://search.example.com/x/", "search.example.com:443"},
		{"http://[::1]:9000", "[::1]:9000"},
	} {
		key := f.addKey(keystore.Credential{KeyID: "kid_up0000000000000000", IntegrationID: "up" + fmt.Sprint(len(tc.dial)), BaseURL: tc.baseURL})
		res := serveKeygate(f.handler("", false), newRequest(bearer(key)))
		if !res.nextRan {
			t.Fatalf("%s: not authenticated: %s", tc.baseURL, res.body)
		}
		var src Upstreams
		first, err := src.GetUpstreams(res.req)
		if err != nil || len(first) != 1 || first[0].Dial != tc.dial {
			t.Fatalf("%s: upstreams %v, %v; want %s", tc.baseURL, first, err, tc.dial)
		}
		again, _ := src.GetUpstreams(res.req)
		if again[0] == first[0] {
			t.Errorf("%s: the same *Upstream twice; reverse_proxy writes into it", tc.baseURL)
		}
	}

	r := caddyhttp.PrepareRequest(newRequest(), caddy.NewReplacer(), httptest.NewRecorder(), nil)
	if ups, err := (Upstreams{}).GetUpstreams(r); err == nil {
		t.Errorf("unauthenticated request got upstreams %v", ups)
	}
	caddyhttp.SetVar(r.Context(), targetVar, "billing.internal:80")
	if ups, err := (Upstreams{}).GetUpstreams(r); err == nil {
		t.Errorf("request whose var was set by config got upstreams %v", ups)
	}
}

func BenchmarkGetUpstreams(b *testing.B) {
	f := newFixture(b)
	res := serveKeygate(f.handler("", false), newRequest(bearer(f.valid)))
	var src Upstreams
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := src.GetUpstreams(res.req); err != nil {
			b.Fatal(err)
		}
	}
}

// recorder is an upstream that records the requests it gets.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body) // so that r.Trailer is filled in
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, r)
	rec.mu.Unlock()
	fmt.Fprintf(w, "upstream saw %s", r.URL.Path)
}

func (rec *recorder) last(t *testing.T) *http.Request {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) == 0 {
		t.Fatal("upstream got no request")
	}
	return rec.reqs[len(rec.reqs)-1]
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.reqs)
}

// gateway is keygate running in this process, in front of real upstreams,
// with its key store in a fresh PostgreSQL database.
type liveGateway struct {
	generic, pinned string // base URLs of the two sites
	plain, tlsUp    *recorder
	tlsHost         string // host:port of the TLS upstream
	plainHost       string // host:port of the plain upstream
	store           *postgres.Store
	dir             string
	keys            map[string]string // name -> key
}

// gatewayCaddyfile has a generic site, which proxies to the key's
// integration whatever its scheme, and a site of pinned routes.
const gatewayCaddyfile = `{
	admin off
	persist_config off
	storage file_system {{dir}}/data
	keygate {
		database {{database}}
	}
	log {
		output file {{dir}}/caddy.log
		format json
		level DEBUG
	}
}

http://:{{generic}} {
	bind 127.0.0.1
	log {
		output file {{dir}}/access.log
		format json
	}
	keygate
	reverse_proxy {
		dynamic keygate
		transport keygate {
			tls_trust_pool file {{dir}}/upstream-ca.pem
		}
	}
}

http://127.0.0.1:{{pinned}} {
	bind 127.0.0.1
	@tenant path_regexp tenant ^/t/([a-z0-9_-]+)/
	handle @tenant {
		keygate {
			integration {re.tenant.1}
		}
		reverse_proxy {
			dynamic keygate
		}
	}
	@byname path_regexp byname ^/i/([a-z0-9][a-z0-9_-]*)(/.*)?$
	handle @byname {
		keygate {
			integration {re.byname.1}
		}
		uri strip_prefix /i/{re.byname.1}
		reverse_proxy {
			dynamic keygate
		}
	}
	handle_path /keephost/* {
		keygate
		reverse_proxy {
			dynamic keygate
			header_up Host {hostport}
		}
	}
	handle /billing/* {
		keygate {
			integration billing
		}
		reverse_proxy {{plain}}
	}
	handle /open/* {
		reverse_proxy {
			dynamic keygate
		}
	}
}
`

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

func startGateway(t *testing.T) *liveGateway {
	t.Helper()
	ctx := context.Background()
	g := &liveGateway{plain: new(recorder), tlsUp: new(recorder), dir: t.TempDir(), keys: map[string]string{}}
	plainSrv := httptest.NewServer(g.plain)
	t.Cleanup(plainSrv.Close)
	tlsSrv := httptest.NewTLSServer(g.tlsUp)
	t.Cleanup(tlsSrv.Close)
	g.tlsHost = strings.TrimPrefix(tlsSrv.URL, "https://")
	g.plainHost = strings.TrimPrefix(plainSrv.URL, "http://")

	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(g.dir, "upstream-ca.pem"), ca, 0o600); err != nil {
		t.Fatal(err)
	}

	database := pgtest.URL(t)
	store := openTestStore(t, database)
	g.store = store
	for id, base := range map[string]string{
		"billing": plainSrv.URL + "/api/v1/",
		"search":  plainSrv.URL,
		"secure":  tlsSrv.URL + "/secure",
	} {
		if err := store.CreateIntegration(ctx, keystore.Integration{ID: id, BaseURL: base}); err != nil {
			t.Fatal(err)
		}
	}
	for name, integration := range map[string]string{"billing": "billing", "search": "search", "secure": "secure", "revoked": "billing"} {
		g.keys[name] = g.createKey(t, integration, name)
	}
	if _, err := store.RevokeKey(ctx, g.keyID("revoked"), time.Time{}); err != nil {
		t.Fatal(err)
	}

	genericPort, pinnedPort := freePort(t), freePort(t)
	cf := strings.NewReplacer(
		"{{dir}}", g.dir, "{{database}}", database, "{{generic}}", genericPort,
		"{{pinned}}", pinnedPort, "{{plain}}", strings.TrimPrefix(plainSrv.URL, "http://"),
	).Replace(gatewayCaddyfile)
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Errorf("stopping caddy: %v", err)
		}
	})
	g.generic, g.pinned = "http://127.0.0.1:"+genericPort, "http://127.0.0.1:"+pinnedPort
	return g
}

// openTestStore opens the key store of database until the test ends.
func openTestStore(t *testing.T, database string) *postgres.Store {
	t.Helper()
	store, err := postgres.Open(context.Background(), database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	return store
}

// createKey stores a new key of integration and returns it.
func (g *liveGateway) createKey(t *testing.T, integration, name string) string {
	t.Helper()
	key, hash, err := keystore.GenerateKey(nil, keystore.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	id, err := keystore.NewKeyID(nil)
	if err != nil {
		t.Fatal(err)
	}
	err = g.store.CreateKey(context.Background(), keystore.NewKey{
		Key:  keystore.Key{ID: id, Name: name, IntegrationID: integration},
		Hash: hash,
	})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// keyID returns the public id of the key created under name.
func (g *liveGateway) keyID(name string) string {
	hash := keystore.HashKey(g.keys[name])
	c, err := g.store.LookupCredential(context.Background(), hash)
	if err != nil {
		panic(err)
	}
	return c.KeyID
}

// do sends a request with these headers, and `Authorization: Bearer <key>`
// when key is not "", and returns the response and its body.
func do(t *testing.T, method, url string, key string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	return resp, b.String()
}

func TestGateway(t *testing.T) {
	g := startGateway(t)

	t.Run("generic route to a path-prefixed http integration", func(t *testing.T) {
		resp, body := do(t, "GET", g.generic+"/things/1?x=1&y=%7Bz%7D&e=a%26b", g.keys["billing"], map[string]string{
			"X-Keygate-Key-Id":      "kid_forged",
			"X-Keygate-Integration": "secure",
			"X-Keygate-Admin":       "true",
			"Connection":            "X-Keygate-Key-Id, X-Keygate-Key-Name, X-Keygate-Integration, Authorization",
		})
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		r := g.plain.last(t)
		if r.URL.Path != "/api/v1/things/1" || r.URL.RawQuery != "x=1&y=%7Bz%7D&e=a%26b" {
			t.Errorf("upstream got %s ? %s, want /api/v1/things/1 ? x=1&y=%%7Bz%%7D&e=a%%26b", r.URL.Path, r.URL.RawQuery)
		}
		want := map[string]string{
			HeaderKeyID:       g.keyID("billing"),
			HeaderKeyName:     "billing",
			HeaderIntegration: "billing",
		}
		for name, vals := range r.Header {
			if isKeygateHeader(name) && (len(vals) != 1 || vals[0] != want[name]) {
				t.Errorf("upstream header %s: %q, want %q", name, vals, want[name])
			}
		}
		for name, val := range want {
			if r.Header.Get(name) != val {
				t.Errorf("upstream header %s = %q, want %q", name, r.Header.Get(name), val)
			}
		}
		if got := r.Header.Get("Authorization"); got != "" {
			t.Errorf("upstream got Authorization %q", got)
		}
	})

	t.Run("generic route to an https integration", func(t *testing.T) {
		resp, body := do(t, "POST", g.generic+"/things", g.keys["secure"], nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		r := g.tlsUp.last(t)
		if r.TLS == nil || r.URL.Path != "/secure/things" || r.Method != "POST" {
			t.Errorf("TLS upstream got %s %s (TLS %v)", r.Method, r.URL.Path, r.TLS != nil)
		}
		if r.Host != g.tlsHost {
			t.Errorf("TLS upstream got Host %q, want its own %q", r.Host, g.tlsHost)
		}
	})

	t.Run("generic route to an integration without path", func(t *testing.T) {
		resp, _ := do(t, "GET", g.generic+"/things", g.keys["search"], nil)
		if r := g.plain.last(t); resp.StatusCode != 200 || r.URL.Path != "/things" {
			t.Errorf("status %d, upstream path %s", resp.StatusCode, r.URL.Path)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		unknown, _, _ := keystore.GenerateKey(nil, keystore.DefaultPrefix)
		for _, tc := range []struct {
			name, url, key string
			status         int
			challenge      string
		}{
			{"no key", g.generic + "/x", "", 401, `Bearer realm="keygate"`},
			{"malformed key", g.generic + "/x", "kg_nope", 401, `Bearer realm="keygate", error="invalid_token"`},
			{"unknown key", g.generic + "/x", unknown, 401, `Bearer realm="keygate", error="invalid_token"`},
			{"revoked key", g.generic + "/x", g.keys["revoked"], 401, `Bearer realm="keygate", error="invalid_token"`},
			{"tenant of another integration", g.pinned + "/t/search/x", g.keys["billing"], 403, `Bearer realm="keygate", error="insufficient_scope"`},
			{"literal pin of another integration", g.pinned + "/billing/x", g.keys["search"], 403, `Bearer realm="keygate", error="insufficient_scope"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := g.plain.count() + g.tlsUp.count()
				resp, body := do(t, "GET", tc.url, tc.key, nil)
				if resp.StatusCode != tc.status || resp.Header.Get("WWW-Authenticate") != tc.challenge {
					t.Errorf("status %d, WWW-Authenticate %q; want %d, %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tc.status, tc.challenge)
				}
				var b struct{ Error string }
				if err := json.Unmarshal([]byte(body), &b); err != nil || b.Error == "" {
					t.Errorf("body %q", body)
				}
				if n := g.plain.count() + g.tlsUp.count() - before; n != 0 {
					t.Errorf("refused request reached the upstream")
				}
			})
		}
	})

	t.Run("pinned routes", func(t *testing.T) {
		resp, _ := do(t, "GET", g.pinned+"/t/billing/x", g.keys["billing"], nil)
		if r := g.plain.last(t); resp.StatusCode != 200 || r.URL.Path != "/api/v1/t/billing/x" {
			t.Errorf("tenant route: status %d, upstream path %s", resp.StatusCode, r.URL.Path)
		}
		resp, _ = do(t, "GET", g.pinned+"/billing/y", g.keys["billing"], nil)
		if r := g.plain.last(t); resp.StatusCode != 200 || r.URL.Path != "/billing/y" || r.Header.Get(HeaderIntegration) != "billing" {
			t.Errorf("literal pin with plain reverse_proxy: status %d, upstream path %s", resp.StatusCode, r.URL.Path)
		}
	})

	t.Run("dynamic keygate without keygate", func(t *testing.T) {
		before := g.plain.count() + g.tlsUp.count()
		resp, _ := do(t, "GET", g.pinned+"/open/x", g.keys["billing"], nil)
		if resp.StatusCode < 500 || g.plain.count()+g.tlsUp.count() != before {
			t.Errorf("status %d; an unauthenticated request must not be proxied", resp.StatusCode)
		}
	})

	t.Run("logs", func(t *testing.T) {
		authLog := readLog(t, filepath.Join(g.dir, "caddy.log"))
		accessLog := readLog(t, filepath.Join(g.dir, "access.log"))
		var revoked, allowed bool
		for _, e := range authLog {
			if e["logger"] != "http.handlers.keygate" {
				continue
			}
			switch {
			case e["reason"] == "revoked":
				revoked = e["level"] == "warn" && e["key_id"] == g.keyID("revoked") && e["integration"] == "billing" &&
					e["remote_ip"] == "127.0.0.1" && e["method"] == "GET" && e["uri"] == "/x" && e["host"] != nil
			case e["msg"] == "request allowed":
				allowed = allowed || e["level"] == "debug" && e["key_id"] == g.keyID("billing")
			}
		}
		if !revoked || !allowed {
			t.Errorf("auth log lacks the revoked attempt (%v) or an allowed request (%v)", revoked, allowed)
		}
		var userID bool
		for _, e := range accessLog {
			userID = userID || e["user_id"] == g.keyID("billing")
		}
		if !userID {
			t.Error("access log has no user_id with the key id")
		}
		for _, path := range []string{"caddy.log", "access.log"} {
			data, err := os.ReadFile(filepath.Join(g.dir, path))
			if err != nil {
				t.Fatal(err)
			}
			for name, key := range g.keys {
				_, secret, _ := strings.Cut(key, "_")
				for i := 0; i+12 <= len(secret); i++ {
					if strings.Contains(string(data), secret[i:i+12]) {
						t.Errorf("%s holds a piece of the %s key", path, name)
						break
					}
				}
			}
		}
	})
}

func readLog(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var entries []map[string]any
	for line := range strings.Lines(string(data)) {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%s: %v: %s", path, err, line)
		}
		entries = append(entries, e)
	}
	return entries
}

// TestUpstreamsRace runs concurrent requests through reverse_proxy with
// the keygate source, for the race detector: the upstreams a source returns
// are written by reverse_proxy.
func TestUpstreamsRace(t *testing.T) {
	g := startGateway(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				req, _ := http.NewRequest("GET", g.generic+"/r", nil)
				req.Header.Set("Authorization", "Bearer "+g.keys["billing"])
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
}
