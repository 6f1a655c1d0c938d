package integration_tests

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// The attack suite: the shipped Caddyfiles, run as they are, against what
// a client holding a key of integration c may send. The contract
// (DESIGN.md, "Routing: a key reaches only its integration"): every
// request is refused (400, 401, 403) or reaches only c's host, with a path
// under c's base path, the Host of c's base URL, keygate's identity headers
// and no client-sent X-Keygate-* header, Authorization or protected
// trailer.
//
//	go test ./integration_tests -run Attack

// attackWorld is a shipped Caddyfile's gateway in front of one recorder
// that serves two integrations on one host, as a shared ingress would:
//
//	c   <recorder>/v1/c   the attacker holds key c
//	d   <recorder>/v1/d   the attacker's target, with /internal/ beside it
type attackWorld struct {
	h    *harness
	g    *shippedGateway
	rec  *recorder
	c, d createdKey
	// anyHost: the site answers any Host (deploy/Caddyfile's :port), not
	// only 127.0.0.1's (Caddyfile.example's http://127.0.0.1:port, which
	// answers other host names with Caddy's empty 200 and no handler).
	anyHost bool
}

// addr is the gateway's site address, host:port.
func (w *attackWorld) addr() string { return fmt.Sprintf("127.0.0.1:%d", w.g.Port) }

// shippedCaddyfiles are the Caddyfiles the suite attacks, each on a store:
// Caddyfile.example on the default embedded store, as `make run` serves
// it, and deploy/Caddyfile on PostgreSQL, as production runs it.
var shippedCaddyfiles = []struct {
	name    string
	harness func(*testing.T) *harness
	start   func(*harness) *shippedGateway
	anyHost bool
}{
	{"Caddyfile.example", func(t *testing.T) *harness { h, _ := newDefaultStoreHarness(t); return h }, (*harness).startCaddyfileExample, false},
	{"deploy/Caddyfile", newHarness, (*harness).startDeployCaddyfile, true},
}

// TestAttack runs every attack on each shipped Caddyfile, the two gateways
// in parallel.
func TestAttack(t *testing.T) {
	for _, file := range shippedCaddyfiles {
		t.Run(file.name, func(t *testing.T) {
			t.Parallel()
			w := &attackWorld{h: file.harness(t), rec: newRecorder(t), anyHost: file.anyHost}
			w.g = file.start(w.h)
			w.h.addIntegration("c", w.rec.URL+"/v1/c")
			w.h.addIntegration("d", w.rec.URL+"/v1/d")
			w.c = w.h.createKey("c", "attacker")
			w.d = w.h.createKey("d", "victim")

			t.Run("paths", w.testPaths)
			t.Run("hosts", w.testHosts)
			t.Run("headers", w.testHeaders)
			t.Run("bearer whitespace", w.testBearerWhitespace)
			t.Run("protocols", w.testProtocols)
			t.Run("admin", w.testAdmin)
			// Last: it checks the log of every attack before it too.
			t.Run("log", w.testLog)
		})
	}
}

// attack is one request of the attacker's and what must come of it.
type attack struct {
	name string
	req  wireRequest
	// reach, when set, is the request target the recorder must receive
	// (and the answer 200): a control, or an attack that must be
	// neutralised rather than refused. Empty: refused, or confined.
	reach string
	// h1Only: HTTP/2 cannot carry the request (an absolute-form target,
	// a Connection header).
	h1Only bool
}

func (w *attackWorld) testPaths(t *testing.T) {
	attacks := []attack{
		{name: "control: plain path", req: wireRequest{target: "/x/y?q=1"}, reach: "/v1/c/x/y?q=1"},
		{name: "control: encoded space", req: wireRequest{target: "/a%20b"}, reach: "/v1/c/a%20b"},
		{name: "control: pinned route", req: wireRequest{target: "/i/c/x?q=1"}, reach: "/v1/c/x?q=1"},

		{name: "raw dot-segments", req: wireRequest{target: "/../d/x"}},
		{name: "raw dot-segments to a sibling path", req: wireRequest{target: "/../../internal/x"}},
		{name: "raw dot-segments after a segment", req: wireRequest{target: "/x/../../d/x"}},
		{name: "raw dot and dot-dot", req: wireRequest{target: "/./../d/x"}},
		{name: "raw backslash", req: wireRequest{target: `/..\d/x`}},
		{name: "encoded dot-dot", req: wireRequest{target: "/%2e%2e/d/x"}},
		{name: "encoded dot-dot upper case", req: wireRequest{target: "/%2E%2E/d/x"}},
		{name: "half-encoded dot-dot", req: wireRequest{target: "/.%2e/d/x"}},
		{name: "dot-dot and encoded slash", req: wireRequest{target: "/..%2fd/x"}},
		{name: "dot-dot and encoded slash upper case", req: wireRequest{target: "/..%2Fd/x"}},
		{name: "all encoded", req: wireRequest{target: "/%2e%2e%2f%2e%2e%2finternal%2fx"}},
		{name: "dot-dot and encoded backslash", req: wireRequest{target: "/..%5cd/x"}},
		{name: "double-encoded dot-dot", req: wireRequest{target: "/%252e%252e/d/x"}},
		{name: "double-encoded dot-dot and slash", req: wireRequest{target: "/%252e%252e%252fd/x"}},
		{name: "NUL", req: wireRequest{target: "/x%00/../../d/x"}},
		{name: "absolute-form dot-segments", req: wireRequest{target: "http://127.0.0.1/../d/x"}, h1Only: true},
		{name: "absolute-form without a path", req: wireRequest{target: "http://127.0.0.1"}, h1Only: true},
		{name: "dot-dot with a matrix parameter", req: wireRequest{target: "/..;/d/x"}},
		{name: "raw fragment before dot-segments", req: wireRequest{target: "/x#/../../d/x"}},

		{name: "pinned: raw dot-segments", req: wireRequest{target: "/i/c/../../i/c/../d/x"}},
		{name: "pinned: encoded dot-dot", req: wireRequest{target: "/i/c/%2e%2e/d/x"}},
		{name: "pinned: dot-dot and encoded slash", req: wireRequest{target: "/i/c/..%2fd/x"}},
		{name: "pinned: double-encoded dot-dot", req: wireRequest{target: "/i/c/%252e%252e/d/x"}},
		{name: "pinned: double-encoded to a sibling path", req: wireRequest{target: "/i/c/%252e%252e/%252e%252e/internal/x"}},
		{name: "pinned: double-encoded dot-dot and slash", req: wireRequest{target: "/i/c/%252e%252e%252fd/x"}},
		{name: "pinned: key of another integration", req: wireRequest{target: "/i/c/x", auth: "Bearer " + w.d.Key}},
	}
	w.runAttacks(t, attacks)
}

func (w *attackWorld) testHosts(t *testing.T) {
	admin := w.g.AdminHost
	attacks := []attack{
		{name: "control: the gateway's Host", req: wireRequest{target: "/h"}, reach: "/v1/c/h"},
		{name: "Host of another port", req: wireRequest{target: "/h", host: "127.0.0.1:9"}},
		{name: "Host of the admin listener", req: wireRequest{target: "/config/", host: admin}},
		{name: "absolute-form of the admin listener", req: wireRequest{target: "http://" + admin + "/config/", host: admin}, h1Only: true},
		{name: "absolute-form of another port", req: wireRequest{target: "http://127.0.0.1:9/h"}, h1Only: true},
		{name: "two Host headers", req: wireRequest{target: "/h", header: []string{"Host: 127.0.0.1:9"}}, h1Only: true},
	}
	if w.anyHost {
		attacks = append(attacks,
			attack{name: "Host of another vhost", req: wireRequest{target: "/h", host: "vhost-b.test"}},
			attack{name: "absolute-form of another vhost", req: wireRequest{target: "http://vhost-b.test/h", host: "vhost-b.test"}, h1Only: true},
			attack{name: "absolute-form against the Host", req: wireRequest{target: "http://vhost-b.test/h"}, h1Only: true},
		)
	}
	w.runAttacks(t, attacks)
}

func (w *attackWorld) testHeaders(t *testing.T) {
	spoof := []string{
		"X-Keygate-Key-Id: " + w.d.ID, "X-Keygate-Key-Name: victim",
		"X-Keygate-Integration: d", "x-keygate-role: admin",
	}
	attacks := []attack{
		{name: "spoofed identity headers", req: wireRequest{target: "/s", header: spoof}, reach: "/v1/c/s"},
		{name: "Connection names the identity headers", h1Only: true, reach: "/v1/c/s", req: wireRequest{target: "/s", header: []string{
			"Connection: X-Keygate-Key-Id, X-Keygate-Key-Name, X-Keygate-Integration",
		}}},
		{name: "Connection names them in two headers, any case", h1Only: true, reach: "/v1/c/s", req: wireRequest{target: "/s", header: []string{
			"Connection: keep-alive,x-keygate-key-id", "Connection: X-KEYGATE-INTEGRATION ,  X-Keygate-Key-Name",
		}}},
		{name: "Connection and spoofed headers", h1Only: true, reach: "/v1/c/s", req: wireRequest{target: "/s", header: append([]string{
			"Connection: X-Keygate-Key-Id",
		}, spoof...)}},
		{name: "identity trailers", reach: "/v1/c/s", req: wireRequest{method: http.MethodPost, target: "/s", trailer: []string{
			"X-Keygate-Key-Id: " + w.d.ID, "X-Keygate-Integration: d", "x-keygate-key-name: victim",
		}}},
		{name: "undeclared identity trailers", h1Only: true, reach: "/v1/c/s", req: wireRequest{
			method: http.MethodPost, target: "/s", undeclared: true,
			trailer: []string{"X-Keygate-Key-Id: " + w.d.ID, "Authorization: Bearer " + w.d.Key},
		}},
		// HTTP/2 servers refuse an Authorization trailer (Go's with a
		// stream error): HTTP/1.1 only.
		{name: "Authorization trailer", h1Only: true, reach: "/v1/c/s", req: wireRequest{method: http.MethodPost, target: "/s", trailer: []string{
			"Authorization: Bearer " + w.d.Key, "X-Keygate-Integration: d",
		}}},
		{name: "Authorization trailer, any case", h1Only: true, reach: "/v1/c/s", req: wireRequest{method: http.MethodPost, target: "/s", trailer: []string{
			"AUTHORIZATION: Bearer " + w.d.Key, "X-KEYGATE-KEY-ID: " + w.d.ID,
		}}},
	}
	w.runAttacks(t, attacks)
}

// runAttacks sends each attack over each protocol the site speaks.
func (w *attackWorld) runAttacks(t *testing.T, attacks []attack) {
	for _, a := range attacks {
		for proto, send := range wireProtocols {
			if a.h1Only && proto != "h1" {
				continue
			}
			t.Run(a.name+"/"+proto, func(t *testing.T) {
				req := a.req
				if req.auth == "" {
					req.auth = "Bearer " + w.c.Key
				}
				n := w.rec.count()
				r := send(t, w.addr(), req)
				got := w.rec.since(n)
				for _, rr := range got {
					w.assertConfined(t, rr)
				}
				switch {
				case a.reach != "":
					if len(got) != 1 || got[0].RequestURI != a.reach || r.status != http.StatusOK {
						t.Errorf("status %d, the upstream got %s; want 200 and exactly %s", r.status, targets(got), a.reach)
					}
				case len(got) == 0 && !refused(r.status):
					t.Errorf("status %d and nothing reached the integration: want 400, 401 or 403", r.status)
				}
			})
		}
	}
}

// refused reports whether status is one a refusal of keygate's may have.
func refused(status int) bool {
	return status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden
}

// targets lists the request targets of reqs, for messages.
func targets(reqs []recordedRequest) string {
	if len(reqs) == 0 {
		return "nothing"
	}
	var s []string
	for _, r := range reqs {
		s = append(s, fmt.Sprintf("%q (Host %q)", r.RequestURI, r.Host))
	}
	return strings.Join(s, ", ")
}

// assertConfined checks one request the recorder received from key c
// against the contract.
func (w *attackWorld) assertConfined(t *testing.T, r recordedRequest) {
	t.Helper()
	if why := escapes(r.RequestURI, "/v1/c"); why != "" {
		t.Errorf("the upstream got %q: %s, outside c's base path /v1/c", r.RequestURI, why)
	}
	if r.Host != w.rec.hostPort() {
		t.Errorf("the upstream got Host %q, want c's %q", r.Host, w.rec.hostPort())
	}
	for i, want := range []string{w.c.ID, w.c.Name, "c"} {
		if got := r.Header.Values(identityHeaders[i]); len(got) != 1 || got[0] != want {
			t.Errorf("the upstream got %s %q, want [%q]", identityHeaders[i], got, want)
		}
	}
	for name := range r.Header {
		if isProtected(name) && !isIdentityHeader(name) {
			t.Errorf("the upstream got header %s, which keygate does not set", name)
		}
	}
	for name := range r.Trailer {
		if isProtected(name) {
			t.Errorf("the upstream got trailer %s", name)
		}
	}
}

// isProtected reports whether name is Authorization or an X-Keygate-*
// header, in any case.
func isProtected(name string) bool {
	name = strings.ToLower(name)
	return name == "authorization" || strings.HasPrefix(name, "x-keygate-")
}

func isIdentityHeader(name string) bool {
	for _, h := range identityHeaders {
		if strings.EqualFold(name, h) {
			return true
		}
	}
	return false
}

// escapes returns why the request target uri is not confined under base,
// the way any upstream may read it: after decoding it any number of
// times, with backslashes as slashes. Empty when it is confined.
func escapes(uri, base string) string {
	p, _, _ := strings.Cut(uri, "?")
	decoded := p
	for range 4 {
		decoded = percentDecode(decoded)
	}
	decoded = strings.ReplaceAll(decoded, `\`, "/")
	switch {
	case p != base && !strings.HasPrefix(p, base+"/"):
		return "not under the base path"
	case strings.ContainsRune(decoded, 0):
		return "a NUL byte once decoded"
	case slices.ContainsFunc(strings.Split(decoded, "/"), isDotDot):
		return fmt.Sprintf("a dot-dot segment once decoded (%q)", decoded)
	case decoded != base && !strings.HasPrefix(decoded, base+"/"):
		return fmt.Sprintf("not under the base path once decoded (%q)", decoded)
	}
	return ""
}

// isDotDot reports whether a decoded path segment is "..", also with
// path parameters ("..;x"), which some servers strip before resolving it.
func isDotDot(seg string) bool {
	seg, _, _ = strings.Cut(seg, ";")
	return seg == ".."
}

func TestEscapes(t *testing.T) {
	for _, tc := range []struct {
		uri     string
		escapes bool
	}{
		{"/v1/c", false},
		{"/v1/c/x/y?q=../..", false},
		{"/v1/c//x", false},
		{"/v1/c/a%20b", false},
		{"/v1/c/..", true},
		{"/v1/c/../d", true},
		{"/v1/c/%2e%2e/d", true},
		{"/v1/c/%252E%252E/d", true},
		{"/v1/c/..%5cd", true},
		{`/v1/c/..\d`, true},
		{"/v1/c/x%00", true},
		{"/v1/c/..;/d", true},
		{"/v1/c/..%3b/d", true},
		{"/v1/c*", true},
		{"/v1/cd/x", true},
		{"/v1/d/x", true},
		{"/internal", true},
		{"http://127.0.0.1/v1/c/x", true},
	} {
		if got := escapes(tc.uri, "/v1/c") != ""; got != tc.escapes {
			t.Errorf("escapes(%q, /v1/c) = %t, want %t", tc.uri, got, tc.escapes)
		}
	}
}
