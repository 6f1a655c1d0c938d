package integration_tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/poll"
)

// TestReadmeLoopOnCaddyfileExample runs README's first screen against
// Caddyfile.example itself, as `make run` serves it, on the default
// embedded store (nothing configured) — only its three ports are moved to
// free ones: add the demo integration, create a key, 200 from the demo
// integration through the pinned route, revoke, 401, and the refusal in
// the auth log with reason "revoked".
func TestReadmeLoopOnCaddyfileExample(t *testing.T) {
	t.Parallel()
	h, _ := newDefaultStoreHarness(t)
	g := h.startCaddyfileExample()
	demo := g.DemoURL

	h.mustCLI("integrations", "add", "demo", "--base-url", demo)
	k := h.createKey("demo", "alice")

	r := g.get(t, "/demo/hello", k.Key)
	var echo map[string]string
	if r.status != http.StatusOK || json.Unmarshal(r.body, &echo) != nil {
		t.Fatalf("GET /demo/hello with the key: status %d, want 200 with the demo's JSON", r.status)
	}
	if echo["integration"] != "demo" || echo["uri"] != "/hello" || echo["key_id"] != k.ID {
		t.Errorf("the demo integration saw integration %q, uri %q, key_id %q; want demo, /hello, %s",
			echo["integration"], echo["uri"], echo["key_id"], k.ID)
	}

	h.mustCLI("keys", "revoke", k.ID)
	poll.Until(t, 2*time.Second, "the revoked key refused", func() (bool, string) {
		r := g.get(t, "/demo/hello", k.Key)
		return r.status == http.StatusUnauthorized, fmt.Sprintf("status %d", r.status)
	})
	poll.Until(t, 5*time.Second, `jq 'select(.reason=="revoked")'`, func() (bool, string) {
		for _, e := range g.logEntries(t) {
			if e.str("reason") == "revoked" && e.str("key_id") == k.ID && e.str("uri") == "/demo/hello" {
				return true, ""
			}
		}
		return false, "no revoked entry for the key with uri /demo/hello"
	})
}
