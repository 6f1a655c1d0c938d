package caddymodule

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// rawRequest sends head (a request line and headers, CRLF-separated,
// without the blank line) and body exactly as given to the server at
// base's host, and returns the response.
func rawRequest(t *testing.T, base, head, body string) (*http.Response, string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(head + "\r\nConnection: close\r\n\r\n" + body)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response to %q: %v", head, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	return resp, b.String()
}

func TestGatewayConfinesRequests(t *testing.T) {
	g := startGateway(t)
	plainHost := g.plainHost
	auth := "Authorization: Bearer " + g.keys["billing"]

	t.Run("ambiguous paths are refused before the key", func(t *testing.T) {
		for _, tc := range []struct {
			name, site, target string
		}{
			{"raw dotdot", g.generic, "/../search/x"},
			{"raw dotdot inside", g.generic, "/x/../../y"},
			{"encoded dotdot", g.generic, "/%2e%2e/y"},
			{"dotdot encoded slash", g.generic, "/..%2fy"},
			{"double encoded dotdot", g.generic, "/%252e%252e/y"},
			{"encoded slash", g.generic, "/a%2fb"},
			{"encoded backslash", g.generic, "/a%5cb"},
			{"raw backslash", g.generic, "/a\\..\\b"},
			{"encoded NUL", g.generic, "/a%00b"},
			{"dotdot with parameter", g.generic, "/..;/y"},
			{"absolute form with dotdot", g.generic, "http://evil.example/../y"},
			{"asterisk", g.generic, "*"},
			{"pinned by name, double encoded", g.pinned, "/i/billing/%252e%252e/%252e%252e/y"},
			{"pinned by name, encoded", g.pinned, "/i/billing/%2e%2e/y"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := g.plain.count() + g.tlsUp.count()
				// No valid key at all: a 401 would mean the path passed.
				resp, body := rawRequest(t, tc.site, "GET "+tc.target+" HTTP/1.1\r\nHost: 127.0.0.1", "")
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("without a key: status %d, want 400: %s", resp.StatusCode, body)
				}
				resp, body = rawRequest(t, tc.site, "GET "+tc.target+" HTTP/1.1\r\nHost: 127.0.0.1\r\n"+auth, "")
				var b struct{ Error string }
				if resp.StatusCode != http.StatusBadRequest || json.Unmarshal([]byte(body), &b) != nil || b.Error != "invalid_request" {
					t.Errorf("with a key: status %d, body %q; want 400 and an error", resp.StatusCode, body)
				}
				if n := g.plain.count() + g.tlsUp.count() - before; n != 0 {
					t.Errorf("%d requests reached an upstream", n)
				}
			})
		}
	})

	t.Run("the integration's host, whatever the client sends", func(t *testing.T) {
		for _, head := range []string{
			"GET /things HTTP/1.1\r\nHost: 127.0.0.1:2019",
			"GET http://127.0.0.1:2019/things HTTP/1.1\r\nHost: evil.example",
			"GET /things HTTP/1.1\r\nHost: other-vhost.internal",
		} {
			resp, body := rawRequest(t, g.generic, head+"\r\n"+auth, "")
			if resp.StatusCode != 200 {
				t.Fatalf("%q: status %d: %s", head, resp.StatusCode, body)
			}
			r := g.plain.last(t)
			if r.Host != plainHost || r.URL.Path != "/api/v1/things" || r.RequestURI != "/api/v1/things" {
				t.Errorf("%q: upstream got Host %q, target %q; want %q, /api/v1/things", head, r.Host, r.RequestURI, plainHost)
			}
		}
	})

	t.Run("header_up Host opts out", func(t *testing.T) {
		resp, body := rawRequest(t, g.pinned, "GET /keephost/things HTTP/1.1\r\nHost: 127.0.0.1:1\r\n"+auth, "")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if r := g.plain.last(t); r.Host != "127.0.0.1:1" || r.URL.Path != "/api/v1/things" {
			t.Errorf("upstream got Host %q, path %q; want the client's Host and /api/v1/things", r.Host, r.URL.Path)
		}
	})

	t.Run("pinned by name strips its prefix, escapes kept", func(t *testing.T) {
		resp, body := rawRequest(t, g.pinned, "GET /i/billing/a%20b/c%3Fd?q=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"+auth, "")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if r := g.plain.last(t); r.RequestURI != "/api/v1/a%20b/c%3Fd?q=1" {
			t.Errorf("upstream got %q, want /api/v1/a%%20b/c%%3Fd?q=1", r.RequestURI)
		}
		resp, body = rawRequest(t, g.pinned, "GET /i/billing HTTP/1.1\r\nHost: 127.0.0.1\r\n"+auth, "")
		if r := g.plain.last(t); resp.StatusCode != 200 || r.RequestURI != "/api/v1/" {
			t.Errorf("status %d (%s), upstream got %q, want /api/v1/", resp.StatusCode, body, r.RequestURI)
		}
	})

	t.Run("trailers cannot forge identity or credentials", func(t *testing.T) {
		head := "POST /things HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
			"\r\nTransfer-Encoding: chunked\r\nTrailer: X-Keygate-Key-Id, Authorization, X-Other"
		body := "5\r\nhello\r\n0\r\nX-Keygate-Key-Id: kid_forged\r\nx-keygate-integration: secure\r\nAuthorization: Bearer forged\r\nX-Other: kept\r\n\r\n"
		resp, rb := rawRequest(t, g.generic, head, body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, rb)
		}
		r := g.plain.last(t)
		for name := range r.Trailer {
			if isProtectedToken(name) {
				t.Errorf("upstream got trailer %s: %q", name, r.Trailer[name])
			}
		}
		if got := r.Trailer.Get("X-Other"); got != "kept" {
			t.Errorf("upstream trailer X-Other = %q, want kept (trailers: %v)", got, r.Trailer)
		}
	})
}

func TestUpstreamPath(t *testing.T) {
	tests := []struct {
		name, base, path, rawPath, escaped string
		wantPath, wantRaw                  string
		refused                            bool
	}{
		{name: "base path", base: "http://u/api/v1", path: "/x", escaped: "/x", wantPath: "/api/v1/x"},
		{name: "no base path", base: "http://u", path: "/x", escaped: "/x", wantPath: "/x"},
		{name: "empty path", base: "http://u/api", wantPath: "/api/"},
		{name: "escapes kept", base: "http://u/api", path: "/a b/c?d", rawPath: "/a%20b/c%3Fd", escaped: "/a%20b/c%3Fd", wantPath: "/api/a b/c?d", wantRaw: "/api/a%20b/c%3Fd"},
		{name: "relative", base: "http://u/api", path: "x", escaped: "x", refused: true},
		{name: "asterisk", base: "http://u/api", path: "*", escaped: "*", refused: true},
		{name: "dotdot", base: "http://u/api", path: "/../x", escaped: "/../x", refused: true},
		{name: "decoded dotdot", base: "http://u/api", path: "/%2e%2e/x", rawPath: "/%252e%252e/x", escaped: "/%252e%252e/x", refused: true},
		{name: "encoded slash", base: "http://u/api", path: "/a/b", rawPath: "/a%2fb", escaped: "/a%2fb", refused: true},
		{name: "network path", base: "http://u", path: "//evil/x", escaped: "//evil/x", refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg, err := newTarget("i", tt.base, nil)
			if err != nil {
				t.Fatal(err)
			}
			p, raw, err := tg.upstreamPath(tt.path, tt.rawPath, tt.escaped)
			if tt.refused {
				if err == nil {
					t.Errorf("got %q (%q), want it refused", p, raw)
				}
				return
			}
			if err != nil || p != tt.wantPath || raw != tt.wantRaw {
				t.Errorf("got %q, %q, %v; want %q, %q", p, raw, err, tt.wantPath, tt.wantRaw)
			}
		})
	}
}

// FuzzUpstreamPath checks that the upstream path of any request path is
// under the base path, and stays there however often it is decoded and
// cleaned; or is refused.
func FuzzUpstreamPath(f *testing.F) {
	f.Fuzz(func(t *testing.T, base, target string) {
		tg, err := newTarget("i", "http://u"+base, nil)
		if err != nil {
			return
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		p, raw, err := tg.upstreamPath(u.Path, u.RawPath, u.EscapedPath())
		if err != nil {
			return
		}
		if !strings.HasPrefix(p, tg.path+"/") {
			t.Fatalf("base %q, target %q: upstream path %q is not under %q", base, target, p, tg.path)
		}
		// On the wire, and however many times a server decodes it, the
		// path starts with the base path, as decoded as many times, and
		// has no dot-segment.
		out := url.URL{Path: p, RawPath: raw}
		wire, bs := out.EscapedPath(), tg.rawPath
		for s := wire; ; {
			if !strings.HasPrefix(s, bs+"/") {
				t.Fatalf("base %q, target %q: upstream path %q (sent %q) is not under %q", base, target, s, wire, bs)
			}
			if c, want := path.Clean(s), strings.TrimSuffix(collapseSlashes(s), "/"); c != want && s != "/" {
				t.Fatalf("base %q, target %q: upstream path %q (sent %q) cleans to %q", base, target, s, wire, c)
			}
			d, err := url.PathUnescape(s)
			if err != nil || d == s {
				break
			}
			if bs, err = url.PathUnescape(bs); err != nil {
				t.Fatalf("base %q: the base path %q decodes to an error: %v", base, tg.rawPath, err)
			}
			s = d
		}
	})
}

// collapseSlashes replaces every run of slashes in p with one.
func collapseSlashes(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}

func TestAdminEndpointsReached(t *testing.T) {
	admin := &adminEndpoints{}
	admin.add("127.0.0.1:2019")
	admin.add("[::1]:3000")
	wildcard := &adminEndpoints{}
	wildcard.add(":2020")
	tests := []struct {
		name       string
		admin      *adminEndpoints
		host, port string
		want       bool
	}{
		{"same address", admin, "127.0.0.1", "2019", true},
		{"localhost", admin, "localhost", "2019", true},
		{"localhost with dot", admin, "LOCALHOST.", "2019", true},
		{"under localhost", admin, "x.localhost", "2019", true},
		{"other loopback", admin, "127.1.2.3", "2019", true},
		{"ipv6 loopback", admin, "::1", "2019", true},
		{"unspecified", admin, "0.0.0.0", "2019", true},
		{"second endpoint", admin, "::1", "3000", true},
		{"wildcard admin, local address", wildcard, "127.0.0.1", "2020", true},
		{"other port", admin, "127.0.0.1", "9001", false},
		{"other host", admin, "billing.internal", "2019", false},
		{"no admin", nil, "127.0.0.1", "2019", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.admin.reaches(tt.host, tt.port); got != tt.want {
				t.Errorf("reaches(%q, %q) = %v, want %v", tt.host, tt.port, got, tt.want)
			}
		})
	}
	if _, err := newTarget("x", "http://127.0.0.1:2019/config", admin); err == nil || !strings.Contains(err.Error(), "admin endpoint") {
		t.Errorf("newTarget of the admin endpoint: %v, want it refused", err)
	}
}

// TestAdminEndpointsOfConfig checks that the admin addresses are read
// from the config being loaded: if Caddy's Context changes shape, the
// reflection in adminEndpointsOf finds nothing and this fails.
func TestAdminEndpointsOfConfig(t *testing.T) {
	for _, tc := range []struct {
		admin string
		want  []string
	}{
		{`{"listen": "127.0.0.1:2999"}`, []string{"127.0.0.1:2999"}},
		{`{"disabled": true}`, nil},
		{`{"listen": "127.0.0.1:2999", "remote": {"listen": "127.0.0.1:2998"}}`, []string{"127.0.0.1:2999", "127.0.0.1:2998"}},
	} {
		var cfg caddy.Config
		if err := json.Unmarshal([]byte(`{"admin": `+tc.admin+`}`), &cfg); err != nil {
			t.Fatal(err)
		}
		ctx, err := caddy.ProvisionContext(&cfg)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, na := range adminEndpointsOf(ctx).addrs {
			got = append(got, na.JoinHostPort(0))
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("admin %s: endpoints %q, want %q", tc.admin, got, tc.want)
		}
	}
	if got := adminEndpointsOf(caddy.Context{}); len(got.addrs) != 1 || got.addrs[0].StartPort != 2019 {
		t.Errorf("a context without config: %v, want Caddy's default admin address", got.addrs)
	}
}

// TestProvisionRefusesUnsafeRoutes checks that the routes written before
// keygate built the upstream request fail to load, saying what to write.
func TestProvisionRefusesUnsafeRoutes(t *testing.T) {
	for _, tc := range []struct {
		name, route, want string
	}{
		{
			name:  "rewrite with the integration path",
			route: "reverse_proxy {\n\t\tdynamic keygate\n\t\trewrite {keygate.integration.path}{uri}\n\t}",
			want:  "dynamic keygate: remove `rewrite {keygate.integration.path}{uri}` (and any rewrite with {keygate.integration.*}) from the reverse_proxy: keygate builds the upstream path itself, under the integration's base path",
		},
		{
			name:  "transport http",
			route: "reverse_proxy {\n\t\tdynamic keygate\n\t\ttransport http {\n\t\t\ttls\n\t\t}\n\t}",
			want:  "dynamic keygate cannot use transport http: write `transport keygate` with the same subdirectives (it takes those of transport http, and uses TLS for https integrations by itself)",
		},
		{
			name:  "transport keygate with static upstreams",
			route: "reverse_proxy 127.0.0.1:9 {\n\t\ttransport keygate\n\t}",
			want:  "transport keygate needs `dynamic keygate` in the same reverse_proxy, so that requests go only to their integration",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cf := "{\n\tadmin off\n\tkeygate {\n\t\tdatabase sqlite:" + t.TempDir() + "/k.db\n\t}\n}\nhttp://127.0.0.1:1 {\n\tkeygate\n\t" + tc.route + "\n}\n"
			cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), nil)
			if err != nil {
				t.Fatal(err)
			}
			var c caddy.Config
			if err := json.Unmarshal(cfg, &c); err != nil {
				t.Fatal(err)
			}
			err = caddy.Validate(&c)
			if err == nil || !strings.HasSuffix(err.Error(), tc.want) {
				t.Errorf("loading\n%s\ngave %v\nwant an error ending %q", cf, err, tc.want)
			}
		})
	}
}

// TestDynamicKeygateInstallsTransport checks the mechanism the short
// route relies on: reverse_proxy loads its transport before its upstream
// source and sets a default one only if it still has none, so the one
// `dynamic keygate` installs is the one it uses.
func TestDynamicKeygateInstallsTransport(t *testing.T) {
	root, err := caddy.ProvisionContext(&caddy.Config{Admin: &caddy.AdminConfig{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(root)
	defer cancel()
	for _, tc := range []struct {
		config string
		want   bool // a keygate transport
	}{
		{`{"dynamic_upstreams": {"source": "keygate"}}`, true},
		{`{"dynamic_upstreams": {"source": "keygate"}, "transport": {"protocol": "keygate", "dial_timeout": 1000000000}}`, true},
		{`{"upstreams": [{"dial": "127.0.0.1:9"}]}`, false},
	} {
		mod, err := ctx.LoadModuleByID("http.handlers.reverse_proxy", json.RawMessage(tc.config))
		if err != nil {
			t.Fatalf("%s: %v", tc.config, err)
		}
		_, got := mod.(*reverseproxy.Handler).Transport.(*Transport)
		if got != tc.want {
			t.Errorf("%s: transport %T", tc.config, mod.(*reverseproxy.Handler).Transport)
		}
	}
}
