package integration_tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	example, err := os.ReadFile(repoPath(t, "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	var demo string
	g := h.retryOnTakenPort("Caddyfile.example", func() (*gateway, error) {
		port, demoPort, adminPort := freePort(t), freePort(t), freePort(t)
		conf := strings.NewReplacer(
			"127.0.0.1:8080", fmt.Sprintf("127.0.0.1:%d", port),
			"127.0.0.1:9001", fmt.Sprintf("127.0.0.1:%d", demoPort),
			"127.0.0.1:2019", fmt.Sprintf("127.0.0.1:%d", adminPort),
		).Replace(string(example))
		dir := t.TempDir()
		confPath := filepath.Join(dir, "Caddyfile")
		if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		stderr := filepath.Join(dir, "stderr.log")
		g := &gateway{
			URL:      fmt.Sprintf("http://127.0.0.1:%d", port),
			AdminURL: fmt.Sprintf("http://127.0.0.1:%d", adminPort),
			// Caddyfile.example logs JSON to standard error.
			LogPath: stderr, stderrPath: stderr,
			h: h, exited: make(chan struct{}),
		}
		demo = fmt.Sprintf("http://127.0.0.1:%d", demoPort)
		cmd := exec.Command(keygateBin, "run", "--config", confPath)
		cmd.Env = append(processEnv(t), h.env...)
		return g, g.launch(cmd)
	})

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
