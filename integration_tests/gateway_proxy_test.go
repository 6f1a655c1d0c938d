package integration_tests

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestGatewayProxiesToIntegrationBaseURL(t *testing.T) {
	startedWorlds(t, func(t *testing.T, w *world, gw *gateway) {
		k := w.h.createKey("echo", "happy path")

		e := gw.get(t, "/whatever?q=1", k.Key).echoed(t)
		if e.Method != http.MethodGet || e.Path != "/v1/whatever" || e.RawQuery != "q=1" {
			t.Errorf("upstream saw %s %s?%s, want GET /v1/whatever?q=1", e.Method, e.Path, e.RawQuery)
		}
		assertIdentity(t, e, k, "echo")

		r := gw.request(t, http.MethodPost, "/items/42?x=a%20b&y=2&y=3", k.Key, withBody("payload"))
		e = r.echoed(t)
		if e.Method != http.MethodPost || e.Path != "/v1/items/42" || e.RawQuery != "x=a%20b&y=2&y=3" || e.Body != "payload" {
			t.Errorf("upstream saw %s %s?%s with body %q, want POST /v1/items/42?x=a%%20b&y=2&y=3 with the payload",
				e.Method, e.Path, e.RawQuery, e.Body)
		}
		if got := w.echo.hits.Load(); got != 2 {
			t.Errorf("the upstream got %d requests, want 2", got)
		}

		entry := gw.authEntry(t, "/whatever?q=1")
		if entry.str("level") != "debug" || entry.str("key_id") != k.ID || entry.str("integration") != "echo" {
			t.Errorf("allowed request logged at %q with key_id %q, integration %q; want debug, %s, echo",
				entry.str("level"), entry.str("key_id"), entry.str("integration"), k.ID)
		}
	})
}

func TestGatewayPinnedIntegration(t *testing.T) {
	startedWorlds(t, func(t *testing.T, w *world, gw *gateway) {
		pinnedKey := w.h.createKey("pinned", "pinned client")
		echoKey := w.h.createKey("echo", "echo client")

		// Plain reverse_proxy: the path goes as it came.
		e := gw.get(t, "/pinned/orders?id=7", pinnedKey.Key).echoed(t)
		if e.Path != "/pinned/orders" || e.RawQuery != "id=7" {
			t.Errorf("pinned upstream saw %s?%s, want /pinned/orders?id=7", e.Path, e.RawQuery)
		}
		assertIdentity(t, e, pinnedKey, "pinned")

		r := gw.get(t, "/pinned/orders", echoKey.Key)
		assertRefused(t, r, http.StatusForbidden, `Bearer realm="keygate", error="insufficient_scope"`)
		if got := w.pinned.hits.Load(); got != 1 {
			t.Errorf("the pinned upstream got %d requests, want only the allowed one", got)
		}

		// Pinned by a placeholder: the path names the integration.
		e = gw.get(t, "/by-name/echo/x", echoKey.Key).echoed(t)
		if e.Path != "/v1/by-name/echo/x" {
			t.Errorf("upstream saw %s, want /v1/by-name/echo/x", e.Path)
		}
		r = gw.get(t, "/by-name/pinned/x", echoKey.Key)
		assertRefused(t, r, http.StatusForbidden, `Bearer realm="keygate", error="insufficient_scope"`)
	})
}

func TestGatewayReplacesIdentityHeaders(t *testing.T) {
	startedWorlds(t, func(t *testing.T, w *world, gw *gateway) {
		k := w.h.createKey("echo", "header test")

		r := gw.request(t, http.MethodGet, "/spoof", k.Key, func(req *http.Request) {
			req.Header.Set("X-Keygate-Key-Id", "kid_spoofedspoofedspoo")
			req.Header.Set("X-Keygate-Key-Name", "admin")
			req.Header.Set("X-Keygate-Integration", "pinned")
			req.Header.Set("X-Keygate-Role", "admin")
			req.Header["x-keygate-integration"] = []string{"lowercase-spoof"}
			req.Header.Set("X-Other", "kept")
		})
		e := r.echoed(t)
		assertIdentity(t, e, k, "echo")
		for name := range e.Header {
			if strings.HasPrefix(strings.ToLower(name), "x-keygate-") && !slices.Contains(identityHeaders, name) {
				t.Errorf("client-sent %s reached the upstream", name)
			}
		}
		if got := e.Header.Get("X-Other"); got != "kept" {
			t.Errorf("X-Other = %q, want other headers kept", got)
		}

		// reverse_proxy drops the headers a client names in Connection; it
		// does drop X-Hop, so the header was sent, but never our identity.
		r = gw.request(t, http.MethodGet, "/hop", k.Key, func(req *http.Request) {
			req.Header.Set("Connection", "X-Keygate-Key-Id, x-keygate-key-name, X-Keygate-Integration, X-Hop")
			req.Header.Set("X-Hop", "1")
		})
		e = r.echoed(t)
		assertIdentity(t, e, k, "echo")
		if _, ok := e.Header["X-Hop"]; ok {
			t.Error("X-Hop, named in Connection, reached the upstream: the test did not exercise Connection")
		}
	})
}

func TestGatewayAuthorizationForwarding(t *testing.T) {
	startedWorlds(t, func(t *testing.T, w *world, gw *gateway) {
		k := w.h.createKey("echo", "forwarding")

		e := gw.get(t, "/private", k.Key).echoed(t)
		if _, ok := e.Header["Authorization"]; ok {
			t.Error("Authorization reached the upstream without forward_credentials")
		}
		e = gw.get(t, "/forward/private", k.Key).echoed(t)
		if got := e.Header.Values("Authorization"); len(got) != 1 || got[0] != "Bearer "+k.Key {
			t.Errorf("with forward_credentials the upstream got %d Authorization headers, want the client's one", len(got))
		}
		if e.Path != "/v1/forward/private" {
			t.Errorf("upstream saw %s, want /v1/forward/private", e.Path)
		}
		assertIdentity(t, e, k, "echo")
	})
}

// identityHeaders are the headers the gateway sets for the upstream.
var identityHeaders = []string{"X-Keygate-Key-Id", "X-Keygate-Key-Name", "X-Keygate-Integration"}

// assertIdentity checks that the upstream got exactly the key's identity
// headers, one value each.
func assertIdentity(t *testing.T, e echoedRequest, k createdKey, integration string) {
	t.Helper()
	for i, want := range []string{k.ID, k.Name, integration} {
		if got := e.Header.Values(identityHeaders[i]); len(got) != 1 || got[0] != want {
			t.Errorf("upstream got %s = %q, want [%q]", identityHeaders[i], got, want)
		}
	}
}
