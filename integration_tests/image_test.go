package integration_tests

import (
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/poll"
)

// TestImageServesAsItsUser runs the image as `docker run` would, without a
// container engine: the binary of the Dockerfile's build command, its CMD,
// ENV, WORKDIR (which it cannot write to), volumes and default config, as
// a user who is not root, and no database configured. It answers, its
// HEALTHCHECK passes, its key store is the SQLite file in the /data
// volume, and keys made with `docker exec keygate keys create` work.
func TestImageServesAsItsUser(t *testing.T) {
	t.Parallel()
	bin := imageBinary(t)
	c := newContainer(t)
	h := &harness{t: t}
	g, env := c.startGateway(h, bin, c.image.cmd(t), c.env())

	uid, err := processUID(g.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if uid == 0 || uid != c.uid {
		t.Errorf("the gateway runs as uid %d, want %d, not root", uid, c.uid)
	}

	healthcheck := c.image.healthcheck(t)
	poll.Until(t, 10*time.Second, "the image's HEALTHCHECK passing", func() (bool, string) {
		res := runCommand(t, "/bin/sh", []string{"-c", healthcheck}, c.setup(env))
		return res.code == 0, res.stderr
	})
	// Every 30s for the container's life: not a line in the log above debug.
	for _, e := range g.logEntries(t) {
		if e.str("logger") == "admin.api" && e.str("level") != "debug" {
			t.Errorf("the HEALTHCHECK's request is logged at %s: %q", e.str("level"), e.str("msg"))
			break
		}
	}
	// It can fail: not with the admin endpoint somewhere else.
	closed := append(env[:len(env):len(env)], "KEYGATE_ADMIN=127.0.0.1:1")
	if res := runCommand(t, "/bin/sh", []string{"-c", healthcheck}, c.setup(closed)); res.code == 0 {
		t.Errorf("the HEALTHCHECK passes with no admin endpoint to answer it")
	}

	// The default store: keygate/keygate.db in Caddy's data directory, in
	// the /data volume, the image user's.
	db := c.path("/data/caddy/keygate/keygate.db")
	if e := g.storeOpened(t); e.str("store") != "sqlite" || e.str("path") != db || e["default_store"] != true {
		t.Errorf("key store opened: store %q, path %q, default_store %v; want sqlite, %s, true",
			e.str("store"), e.str("path"), e["default_store"], db)
	}
	if fi, err := os.Stat(db); err != nil {
		t.Errorf("the default store: %v", err)
	} else if owner := int(fi.Sys().(*syscall.Stat_t).Uid); owner != c.uid {
		t.Errorf("the default store belongs to uid %d, want the image's user, %d", owner, c.uid)
	}

	// docker exec <container> keygate ...: the same user and environment.
	up := newUpstream(t)
	if res := c.run(bin, env, "integrations", "add", "echo", "--base-url", up.URL+"/v1"); res.code != 0 {
		t.Fatalf("keygate integrations add: exit code %d: %s", res.code, res.stderr)
	}
	res := c.run(bin, env, "keys", "create", "--integration", "echo", "--name", "docker", "--json")
	if res.code != 0 {
		t.Fatalf("keygate keys create: exit code %d: %s", res.code, res.stderr)
	}
	var k createdKey
	decodeJSON(t, res.stdout, &k)
	h.remember(k.Key)
	r := g.get(t, "/hello", k.Key)
	if r.status != http.StatusOK {
		t.Fatalf("GET /hello with the key: status %d, want 200", r.status)
	}
	if e := r.echoed(t); e.Path != "/v1/hello" || e.Header.Get("X-Keygate-Key-Id") != k.ID {
		t.Errorf("the upstream saw %s with key id %q, want /v1/hello and %s", e.Path, e.Header.Get("X-Keygate-Key-Id"), k.ID)
	}
}
