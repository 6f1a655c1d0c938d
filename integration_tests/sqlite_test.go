package integration_tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/poll"
	"github.com/keygate/keygate/keystore"
)

// The embedded store: gateways and command lines on one SQLite file, and
// the default store that they share when nothing is configured.

// newSQLiteHarness gives t a harness on a fresh SQLite file.
func newSQLiteHarness(t *testing.T) *harness {
	t.Helper()
	requireBinary(t)
	return &harness{t: t, dbURL: "sqlite:" + filepath.Join(t.TempDir(), "keygate.db")}
}

// newDefaultStoreHarness gives t a harness that names no database at all:
// its gateways and command lines share a data directory of the test's,
// where the default store is, at the returned path.
func newDefaultStoreHarness(t *testing.T) (*harness, string) {
	t.Helper()
	requireBinary(t)
	data := t.TempDir()
	return &harness{t: t, env: []string{"XDG_DATA_HOME=" + data}},
		filepath.Join(data, "caddy", "keygate", "keygate.db")
}

// storeOpened returns the gateway's "key store opened" log entry.
func (g *gateway) storeOpened(t *testing.T) logEntry {
	t.Helper()
	for _, e := range g.logEntries(t) {
		if e.str("msg") == "key store opened" {
			return e
		}
	}
	t.Fatal(`the gateway did not log "key store opened"`)
	return nil
}

func TestSQLiteRevocationFromAnotherProcess(t *testing.T) {
	t.Parallel()
	w := newWorldOn(t, newSQLiteHarness(t))
	// An hour of cache: only the change feed can bring the revocation.
	gw := w.start(gatewayConfig{CacheTTL: "1h"})
	if e := gw.storeOpened(t); e.str("store") != "sqlite" || "sqlite:"+e.str("path") != w.h.dbURL {
		t.Errorf("key store opened: store %q, path %q; want sqlite, %s", e.str("store"), e.str("path"), w.h.dbURL)
	}
	k := w.h.createKey("echo", "soon revoked")
	keep := w.h.createKey("echo", "kept")
	gw.get(t, "/before", k.Key).echoed(t) // now in the gateway's cache

	w.h.mustCLI("keys", "revoke", k.ID)
	revoked := time.Now()
	n := 0
	poll.Until(t, time.Second, "the running gateway refusing a key revoked by another process", func() (bool, string) {
		n++
		r := gw.get(t, fmt.Sprintf("/after/%d", n), k.Key)
		return r.status == http.StatusUnauthorized, fmt.Sprintf("status %d", r.status)
	})
	t.Logf("refused %v after the command line exited", time.Since(revoked).Round(time.Millisecond))
	if e := gw.authEntry(t, fmt.Sprintf("/after/%d", n)); e.str("reason") != "revoked" || e.str("key_id") != k.ID {
		t.Errorf("auth log: reason %q, key_id %q; want revoked, %s", e.str("reason"), e.str("key_id"), k.ID)
	}
	if e := gw.get(t, "/other", keep.Key).echoed(t); e.Path != "/v1/other" {
		t.Errorf("another key stopped working: upstream saw %s", e.Path)
	}
}

// TestSQLiteCLIWritesWhileServing runs command lines that write to the
// file in a loop while the gateway serves keys it has cached and keys it
// must read from the file: no command fails, no request gets a 5xx.
func TestSQLiteCLIWritesWhileServing(t *testing.T) {
	t.Parallel()
	w := newWorldOn(t, newSQLiteHarness(t))
	gw := w.start(gatewayConfig{CacheTTL: "1h"})
	valid := w.h.createKey("echo", "valid")

	stop := make(chan struct{})
	var served atomic.Int64
	var mu sync.Mutex
	var failures []string
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	var clients sync.WaitGroup
	for range 4 {
		clients.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Every other request has a key never seen: a read of
				// the file, which the command lines are writing to.
				key, want := valid.Key, http.StatusOK
				if i%2 == 1 {
					unknown, _, err := keystore.GenerateKey(nil, keystore.DefaultPrefix)
					if err != nil {
						fail("generating a key: %v", err)
						return
					}
					key, want = unknown, http.StatusUnauthorized
				}
				status, err := getStatus(gw.URL+"/load", key)
				switch {
				case err != nil:
					fail("request: %v", err)
				case status != want:
					fail("status %d, want %d", status, want)
				}
				served.Add(1)
			}
		})
	}

	var writers sync.WaitGroup
	for cli := range 2 {
		writers.Go(func() {
			for round := range 6 {
				res := w.h.cli("keys", "create", "--integration", "echo", "--name", fmt.Sprintf("cli%d-%d", cli, round), "--json")
				if res.code != 0 {
					fail("keys create: exit code %d: %s", res.code, res.stderr)
					continue
				}
				var k createdKey
				if err := json.Unmarshal([]byte(res.stdout), &k); err != nil {
					fail("keys create --json: %v", err)
					continue
				}
				w.h.remember(k.Key)
				if res := w.h.cli("keys", "revoke", k.ID); res.code != 0 {
					fail("keys revoke: exit code %d: %s", res.code, res.stderr)
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	clients.Wait()

	for _, f := range failures {
		t.Error(f)
	}
	if served.Load() == 0 {
		t.Fatal("no request was served while the command lines wrote")
	}
	t.Logf("%d requests served during 24 command line writes", served.Load())
	if keys := w.h.listKeys(); len(keys) != 13 {
		t.Errorf("%d keys in the store, want 13", len(keys))
	}
}

// getStatus sends GET url with the key and returns the status.
func getStatus(url, key string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err // it quotes the URL, never the header
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestDefaultStoreSharedByGatewayAndCLI: with no database anywhere — no
// `database` in the Caddyfile, no KEYGATE_DATABASE_URL, no --database —
// the gateway and the command line use the same file.
func TestDefaultStoreSharedByGatewayAndCLI(t *testing.T) {
	t.Parallel()
	h, path := newDefaultStoreHarness(t)
	w := newWorldOn(t, h) // integrations added by the command line
	gw := w.start(gatewayConfig{})
	e := gw.storeOpened(t)
	if e.str("store") != "sqlite" || e.str("path") != path || e["default_store"] != true {
		t.Errorf("key store opened: store %q, path %q, default_store %v; want sqlite, %s, true",
			e.str("store"), e.str("path"), e["default_store"], path)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the default store: %v", err)
	}
	k := h.createKey("echo", "default")
	if got := gw.get(t, "/default", k.Key).echoed(t); got.Path != "/v1/default" {
		t.Errorf("upstream saw %s, want /v1/default", got.Path)
	}
	if keys := h.listKeys(); len(keys) != 1 || keys[0].ID != k.ID {
		t.Errorf("the command line lists %v, want the key the gateway accepted", keys)
	}
}

// TestCaddyfileExampleValidates: make run's configuration loads on the
// embedded store with nothing configured.
func TestCaddyfileExampleValidates(t *testing.T) {
	t.Parallel()
	requireBinary(t)
	data := t.TempDir()
	res := runKeygate(t, []string{"XDG_DATA_HOME=" + data}, "validate", "--config", "../Caddyfile.example", "--adapter", "caddyfile")
	if res.code != 0 || !strings.Contains(res.stdout+res.stderr, "Valid configuration") {
		t.Fatalf("keygate validate --config Caddyfile.example: exit code %d, output:\n%s%s", res.code, res.stdout, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "caddy", "keygate", "keygate.db")); err != nil {
		t.Errorf("the default store was not used: %v", err)
	}
}

// TestSQLiteBadConfiguration: mistakes in the database URL are clear
// errors, for the command line and the gateway alike, never an empty store.
func TestSQLiteBadConfiguration(t *testing.T) {
	t.Parallel()
	requireBinary(t)
	dir := t.TempDir()
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte(strings.Repeat("these are notes, not a database\n", 50)), 0o600); err != nil {
		t.Fatal(err)
	}
	const password = "Sup3r-s3cret-pw"
	cases := []struct {
		name, url string
		want      []string
	}{
		{"bad scheme", "mysql://keygate:" + password + "@127.0.0.1/keygate", []string{`unsupported database URL scheme "mysql:"`, "sqlite:PATH"}},
		{"no scheme", filepath.Join(dir, "keygate.db"), []string{"no scheme", "sqlite:PATH"}},
		{"missing directory", "sqlite:" + filepath.Join(dir, "missing", "keygate.db"), []string{"does not exist"}},
		{"directory", "sqlite:" + dir, []string{"is a directory"}},
		{"not a database", "sqlite:" + notes, []string{"not an SQLite database"}},
		{"under a file", "sqlite:" + filepath.Join(notes, "keygate.db"), []string{"not a directory"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := runKeygate(t, nil, "keys", "list", "--database", c.url)
			assertFailed(t, res, append([]string{"cannot open the key store"}, c.want...)...)
			if strings.Contains(res.stderr, password) {
				t.Error("the command line printed the password")
			}

			conf := filepath.Join(t.TempDir(), "Caddyfile")
			body := fmt.Sprintf("{\n\tadmin off\n\tkeygate {\n\t\tdatabase %q\n\t}\n}\n", c.url)
			if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			res = runKeygate(t, nil, "validate", "--config", conf, "--adapter", "caddyfile")
			if res.code == 0 {
				t.Fatal("keygate validate accepted the configuration")
			}
			stderr := strings.ReplaceAll(res.stderr, `\"`, `"`) // a JSON log
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("keygate validate: standard error lacks %q:\n%s", w, res.stderr)
				}
			}
			if strings.Contains(res.stderr, password) {
				t.Error("keygate validate printed the password")
			}
		})
	}
	if data, err := os.ReadFile(notes); err != nil || !strings.HasPrefix(string(data), "these are notes") {
		t.Errorf("the file that is not a database was changed (%v)", err)
	}
}
