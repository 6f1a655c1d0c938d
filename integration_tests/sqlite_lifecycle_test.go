package integration_tests

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/poll"
)

func TestSQLiteRotateAndLastUsed(t *testing.T) {
	t.Parallel()
	w := newWorldOn(t, newSQLiteHarness(t))
	h := w.h
	gw := w.start(gatewayConfig{LastUsedInterval: "100ms"})
	old := h.createKey("echo", "sqlite client")
	var next rotatedKey
	decodeJSON(t, h.mustCLI("keys", "rotate", old.ID, "--grace", "2s", "--json"), &next)
	h.remember(next.Key)
	for name, key := range map[string]string{"old": old.Key, "new": next.Key} {
		if r := gw.get(t, "/inside-grace/"+name, key); r.status != http.StatusOK {
			t.Fatalf("%s key inside the grace period: status %d", name, r.status)
		}
	}
	poll.Until(t, 10*time.Second, "last_used_at of both keys", func() (bool, string) {
		o, n := h.showKey(old.ID), h.showKey(next.ID)
		return o.LastUsedAt != nil && n.LastUsedAt != nil, fmt.Sprintf("old %v, new %v", o.LastUsedAt, n.LastUsedAt)
	})
	if e := waitRefused(t, gw, old.Key, "old key"); e.str("reason") != "expired" {
		t.Errorf("old key after the grace period: reason %q, want expired", e.str("reason"))
	}
	if r := gw.get(t, "/after-grace", next.Key); r.status != http.StatusOK {
		t.Fatalf("new key after the grace period: status %d", r.status)
	}
	h.mustCLI("keys", "delete", next.ID)
	if e := waitRefused(t, gw, next.Key, "deleted key"); e.str("reason") != "revoked" {
		t.Errorf("deleted key: reason %q, want revoked", e.str("reason"))
	}
	if keys := h.listKeys(); len(keys) != 1 || keys[0].ID != old.ID {
		t.Errorf("keys list after deleting the new key: %v", keys)
	}
}
