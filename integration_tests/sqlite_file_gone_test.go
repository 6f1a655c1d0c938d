package integration_tests

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/poll"
)

// TestSQLiteFileRemovedWhileServing: an operator removes (here: moves
// away) the gateway's database file. The gateway must not go on serving
// from the unlinked file: every key, cached or never seen, gets 503, and
// the log says why, naming the file. The command line does not make a new
// empty database there (where `keys revoke` would say "unknown key"); it
// says the file is missing. Once the same file is back, keys work again.
func TestSQLiteFileRemovedWhileServing(t *testing.T) {
	t.Parallel()
	w := newWorldOn(t, newSQLiteHarness(t))
	path := strings.TrimPrefix(w.h.dbURL, "sqlite:")
	gw := w.start(gatewayConfig{CacheTTL: "1h"})
	cached := w.h.createKey("echo", "cached")
	unseen := w.h.createKey("echo", "unseen")
	gw.get(t, "/before", cached.Key).echoed(t)

	if err := os.Rename(path, path+".away"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 5*time.Second, "the cached key refused with 503", func() (bool, string) {
		r := gw.get(t, "/gone", cached.Key)
		return r.status == http.StatusServiceUnavailable, fmt.Sprintf("status %d", r.status)
	})
	if r := gw.get(t, "/gone-unseen", unseen.Key); r.status != http.StatusServiceUnavailable {
		t.Errorf("a key never seen, with the file gone: status %d, want 503", r.status)
	}
	if e := gw.authEntry(t, "/gone-unseen"); e.str("reason") != "store_unavailable" {
		t.Errorf("auth log reason %q, want store_unavailable", e.str("reason"))
	}
	var logged bool
	for _, e := range gw.logEntries(t) {
		if e.str("level") == "error" && strings.Contains(e.str("msg"), "key store file gone") && e.str("path") == path {
			logged = true
		}
	}
	if !logged {
		t.Errorf("no error entry in the log naming %s", path)
	}

	res := w.h.cli("keys", "revoke", cached.ID)
	if res.code == 0 || !strings.Contains(res.stderr, path+" does not exist") {
		t.Errorf("keys revoke with the file gone: exit %d, stderr %q; want a failure saying %s does not exist", res.code, res.stderr, path)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatalf("the command line created a new %s", path)
	}

	if err := os.Rename(path+".away", path); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 5*time.Second, "the key accepted once the file is back", func() (bool, string) {
		r := gw.get(t, "/back", cached.Key)
		return r.status == http.StatusOK, fmt.Sprintf("status %d", r.status)
	})
	w.h.mustCLI("keys", "revoke", cached.ID)
	poll.Until(t, 2*time.Second, "a revocation reaching the gateway again", func() (bool, string) {
		r := gw.get(t, "/revoked", cached.Key)
		return r.status == http.StatusUnauthorized, fmt.Sprintf("status %d", r.status)
	})
}
