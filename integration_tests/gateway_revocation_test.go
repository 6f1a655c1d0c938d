package integration_tests

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/poll"
)

func TestGatewaySeesCLIRevocation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(gatewayConfig{CacheTTL: "1s"})
	k := w.h.createKey("echo", "soon revoked")
	keep := w.h.createKey("echo", "kept")

	gw.get(t, "/before", k.Key).echoed(t) // now in the gateway's cache
	w.h.mustCLI("keys", "revoke", k.ID)

	// Within the cache TTL, at most: poll until refused.
	n := 0
	poll.Until(t, 15*time.Second, "the running gateway refusing the revoked key", func() (bool, string) {
		n++
		r := gw.get(t, fmt.Sprintf("/after/%d", n), k.Key)
		return r.status == http.StatusUnauthorized, fmt.Sprintf("status %d", r.status)
	})
	r := gw.get(t, "/revoked", k.Key)
	assertRefused(t, r, http.StatusUnauthorized, challengeInvalid)
	if e := gw.authEntry(t, "/revoked"); e.str("reason") != "revoked" || e.str("key_id") != k.ID {
		t.Errorf("auth log: reason %q, key_id %q; want revoked, %s", e.str("reason"), e.str("key_id"), k.ID)
	}
	if e := gw.get(t, "/other", keep.Key).echoed(t); e.Path != "/v1/other" {
		t.Errorf("another key of the integration stopped working: upstream saw %s", e.Path)
	}
}
