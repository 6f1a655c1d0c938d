package integration_tests

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/poll"
)

// rotatedKey is the output of `keygate keys rotate --json`.
type rotatedKey struct {
	createdKey
	RotatedFrom  string     `json:"rotated_from"`
	OldExpiresAt *time.Time `json:"old_expires_at"`
}

// keyDetails is `keygate keys show --json`.
type keyDetails struct {
	keyRecord
	Status string `json:"status"`
}

// showKey returns `keygate keys show ID --json`.
func (h *harness) showKey(id string) keyDetails {
	h.t.Helper()
	var k keyDetails
	decodeJSON(h.t, h.mustCLI("keys", "show", id, "--json"), &k)
	return k
}

// waitRefused polls until the gateway refuses key on path with 401, and
// returns the auth log entry of the first refusal's uri.
func waitRefused(t *testing.T, gw *gateway, key, what string) logEntry {
	t.Helper()
	var uri string
	n := 0
	poll.Until(t, 20*time.Second, what+" refused", func() (bool, string) {
		n++
		uri = fmt.Sprintf("/refused-%s/%d", strings.ReplaceAll(what, " ", "-"), n)
		r := gw.get(t, uri, key)
		return r.status == http.StatusUnauthorized, fmt.Sprintf("status %d", r.status)
	})
	return gw.authEntry(t, uri)
}

func TestRotateWithGrace(t *testing.T) {
	t.Parallel()
	w, gw := startedWorld(t)
	h := w.h
	old := h.createKey("echo", "billing job")
	res := h.cli("keys", "rotate", old.ID, "--grace", "3s", "--json")
	if res.code != 0 {
		t.Fatalf("keys rotate: exit code %d, stderr:\n%s", res.code, res.stderr)
	}
	var next rotatedKey
	decodeJSON(t, res.stdout, &next)
	h.remember(next.Key)
	if next.RotatedFrom != old.ID || next.Name != "billing job" || next.Integration != "echo" || next.ID == old.ID {
		t.Fatalf("keys rotate --json = id %s, from %s, name %q, integration %q", next.ID, next.RotatedFrom, next.Name, next.Integration)
	}
	if h.leaks(res.stderr) || !strings.Contains(res.stderr, `"logger":"keygate.audit"`) || !strings.Contains(res.stderr, `"action":"key rotated"`) {
		t.Errorf("keys rotate wrote no audit entry, or one with a key, on standard error")
	}
	for name, key := range map[string]string{"old": old.Key, "new": next.Key} {
		if r := gw.get(t, "/inside-grace/"+name, key); r.status != http.StatusOK {
			t.Fatalf("%s key inside the grace period: status %d", name, r.status)
		}
	}
	e := waitRefused(t, gw, old.Key, "old key")
	if e.str("reason") != "expired" || e.str("key_id") != old.ID {
		t.Errorf("auth log: reason %q, key_id %q; want expired, %s", e.str("reason"), e.str("key_id"), old.ID)
	}
	if r := gw.get(t, "/after-grace/new", next.Key); r.status != http.StatusOK {
		t.Fatalf("new key after the grace period: status %d", r.status)
	}
	if k := h.showKey(old.ID); k.Status != "expired" {
		t.Errorf("keys show of the old key: status %q, want expired", k.Status)
	}
	// A revoked key cannot be rotated; nor can an unknown one.
	h.mustCLI("keys", "revoke", old.ID)
	for _, id := range []string{old.ID, "kid_00000000000000000000"} {
		if res := h.cli("keys", "rotate", id, "--grace", "0"); res.code == 0 {
			t.Errorf("rotating %s succeeded", id)
		}
	}
}

func TestExpiryAndMaxKeyAge(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(gatewayConfig{MaxKeyAge: "4s"})
	h := w.h
	short := h.createKey("echo", "short lived", "--expires-in", "2s")
	aged := h.createKey("echo", "aged")
	for _, k := range []createdKey{short, aged} {
		if r := gw.get(t, "/fresh/"+k.ID, k.Key); r.status != http.StatusOK {
			t.Fatalf("key %s before its end: status %d", k.ID, r.status)
		}
	}
	for _, k := range []createdKey{short, aged} {
		e := waitRefused(t, gw, k.Key, k.Name)
		if e.str("reason") != "expired" || e.str("key_id") != k.ID || e.str("level") != "warn" {
			t.Errorf("auth log for %s: reason %q at %q, key_id %q; want expired at warn", k.Name, e.str("reason"), e.str("level"), e.str("key_id"))
		}
	}
	// keys list marks a key past the maximum age.
	if out := h.mustCLI("keys", "list", "--max-key-age", "4s"); !strings.Contains(out, "too old") {
		t.Errorf("keys list --max-key-age marks no key too old:\n%s", out)
	}
}

// countTouches makes the test database count the statements that update
// last_used_at, and returns a function that reads the count.
func countTouches(h *harness) func() int {
	h.execSQL(`CREATE TABLE test_touches (at timestamptz NOT NULL DEFAULT now())`)
	h.execSQL(`CREATE FUNCTION test_count_touch() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN INSERT INTO test_touches DEFAULT VALUES; RETURN NULL; END $$`)
	h.execSQL(`CREATE TRIGGER test_count_touch AFTER UPDATE OF last_used_at ON keygate_keys
		FOR EACH STATEMENT EXECUTE FUNCTION test_count_touch()`)
	conn := h.dbConn()
	return func() int { return queryInt(h.t, conn, `SELECT count(*) FROM test_touches`) }
}

func TestLastUsedCoalesced(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	h := w.h
	touches := countTouches(h)
	const interval = 200 * time.Millisecond
	gw := w.start(gatewayConfig{LastUsedInterval: interval.String()})
	k := h.createKey("echo", "busy client")
	if got := h.showKey(k.ID); got.LastUsedAt != nil {
		t.Fatalf("a new key has last_used_at %v", got.LastUsedAt)
	}
	feedBefore := queryInt(t, h.dbConn(), `SELECT count(*) FROM keygate_changes`)

	const requests, workers = 1000, 8
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for i := range workers {
		wg.Go(func() {
			for j := range requests / workers {
				if r := gw.get(t, fmt.Sprintf("/load/%d/%d", i, j), k.Key); r.status != http.StatusOK {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	loadEnd := time.Now()
	if failed > 0 {
		t.Fatalf("%d of %d requests failed", failed, requests)
	}
	poll.Until(t, 10*time.Second, "last_used_at recorded", func() (bool, string) {
		got := h.showKey(k.ID)
		return got.LastUsedAt != nil && !got.LastUsedAt.Before(start.Add(-time.Second)), fmt.Sprintf("last_used_at %v", got.LastUsedAt)
	})
	// One statement per interval at most while there were uses, plus the
	// interval the last ones fell in.
	writes := touches()
	bound := int(loadEnd.Sub(start)/interval) + 2
	if writes < 1 || writes > bound {
		t.Errorf("%d requests over %v gave %d last_used_at writes, want 1 to %d", requests, loadEnd.Sub(start), writes, bound)
	}
	t.Logf("%d requests over %v: %d last_used_at writes", requests, loadEnd.Sub(start), writes)
	if feedAfter := queryInt(t, h.dbConn(), `SELECT count(*) FROM keygate_changes`); feedAfter != feedBefore {
		t.Errorf("recording uses wrote %d change feed rows, want none", feedAfter-feedBefore)
	}
}

func TestLastUsedFlushedAtShutdown(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	h := w.h
	gw := w.start(gatewayConfig{LastUsedInterval: "1h"})
	k := h.createKey("echo", "last words")
	if r := gw.get(t, "/once", k.Key); r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	if got := h.showKey(k.ID); got.LastUsedAt != nil {
		t.Fatalf("last_used_at written before the hour-long interval: %v", got.LastUsedAt)
	}
	gw.stop()
	if got := h.showKey(k.ID); got.LastUsedAt == nil {
		t.Fatal("last_used_at not written at a clean shutdown")
	}
}
