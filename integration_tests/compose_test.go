package integration_tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/poll"
)

// composeGateways are the gateway services of compose.yaml.
var composeGateways = []string{"gateway-1", "gateway-2"}

// TestComposeWiring checks what `docker compose up` relies on and no
// test here can run: every gateway is the image built from the Dockerfile,
// with deploy/Caddyfile (the image's own default) mounted as its config, on
// the postgres service's database with its credentials, published on a
// loopback port of its own; the demo integration is the same image.
func TestComposeWiring(t *testing.T) {
	c := readCompose(t)
	pg := c.service(t, "postgres")
	demo := c.service(t, "demo")
	stages := readDockerfile(t)
	imageConfig := stages[len(stages)-1].copiedFrom(t, "/etc/caddy/Caddyfile")
	hostPorts := make(map[string]string)
	for _, name := range composeGateways {
		s := c.service(t, name)
		if s.Build == nil || s.Image == "" || s.Image != demo.Image {
			t.Errorf("%s: build %v, image %q; want the image built from the Dockerfile, as the demo's (%q)", name, s.Build, s.Image, demo.Image)
		}
		if got := s.mountedAt(t, "/etc/caddy/Caddyfile"); got != imageConfig {
			t.Errorf("%s mounts %s as its config, want the image's default, %s", name, got, imageConfig)
		}
		db, err := url.Parse(s.Environment["KEYGATE_DATABASE_URL"])
		if err != nil {
			t.Fatalf("%s: KEYGATE_DATABASE_URL: %v", name, err)
		}
		password, _ := db.User.Password()
		if _, ok := c.Services[db.Hostname()]; !ok || db.Hostname() != "postgres" ||
			db.User.Username() != pg.Environment["POSTGRES_USER"] || password != pg.Environment["POSTGRES_PASSWORD"] ||
			strings.TrimPrefix(db.Path, "/") != pg.Environment["POSTGRES_DB"] {
			t.Errorf("%s: KEYGATE_DATABASE_URL %s is not the postgres service's database and credentials", name, db.Redacted())
		}
		if _, ok := s.DependsOn["postgres"]; !ok {
			t.Errorf("%s does not depend on postgres", name)
		}
		if len(s.Ports) != 1 || !strings.HasPrefix(s.Ports[0], "127.0.0.1:") || !strings.HasSuffix(s.Ports[0], ":80") {
			t.Errorf("%s publishes %q, want one 127.0.0.1:<port>:80", name, s.Ports)
			continue
		}
		port := strings.Split(s.Ports[0], ":")[1]
		if other, taken := hostPorts[port]; taken {
			t.Errorf("%s and %s both publish port %s", name, other, port)
		}
		hostPorts[port] = name
	}
}

// TestComposeTwoGatewaysShareRevocation runs compose.yaml's services as
// `docker compose up` would, without a container engine, on the test's
// PostgreSQL database: the demo integration with its command line, two
// gateways with the image's command and compose's environment, then the
// README's steps — register the demo, create a key through gateway-1,
// call both, revoke through gateway-2 — and both refuse the key at once.
func TestComposeTwoGatewaysShareRevocation(t *testing.T) {
	t.Parallel()
	bin := imageBinary(t)
	h := newHarness(t)
	c := readCompose(t)
	demoURL := startDemo(t, bin, c.service(t, "demo").Command)

	var gateways []*gateway
	for _, name := range composeGateways {
		s := c.service(t, name)
		ctr := newContainer(t)
		ctr.mount("/etc/caddy/Caddyfile", s.mountedAt(t, "/etc/caddy/Caddyfile"))
		var env []string
		for k, v := range s.Environment {
			env = append(env, k+"="+interpolate(v))
		}
		// The postgres service is the test's database.
		g, _ := ctr.startGateway(h, bin, ctr.image.cmd(t), ctr.env(append(env, "KEYGATE_DATABASE_URL="+h.dbURL)...))
		gateways = append(gateways, g)
	}

	// docker compose exec gateway-1 keygate ...: the same database.
	h.addIntegration("demo", demoURL)
	k := h.createKey("demo", "alice")
	for i, g := range gateways {
		r := g.get(t, "/hello", k.Key)
		var answer map[string]string
		if r.status != http.StatusOK || json.Unmarshal(r.body, &answer) != nil {
			t.Fatalf("%s: GET /hello: status %d, want 200 and the demo's JSON", composeGateways[i], r.status)
		}
		if answer["integration"] != "demo" || answer["key_id"] != k.ID || answer["uri"] != "/hello" {
			t.Errorf("%s: the demo answered %v, want integration demo, key_id %s, uri /hello", composeGateways[i], answer, k.ID)
		}
	}

	// docker compose exec gateway-2 keygate keys revoke <id>
	h.mustCLI("keys", "revoke", k.ID)
	for i, g := range gateways {
		poll.Until(t, 2*time.Second, composeGateways[i]+" refusing the revoked key", func() (bool, string) {
			r := g.get(t, "/hello", k.Key)
			return r.status == http.StatusUnauthorized, fmt.Sprintf("status %d", r.status)
		})
	}
}

// startDemo runs the demo service's command (keygate respond) with bin,
// listening on a free port of 127.0.0.1 instead of its own, until the test
// ends, and returns its base URL once it answers.
func startDemo(t *testing.T, bin string, command []string) string {
	t.Helper()
	if len(command) < 2 || command[0] != "keygate" || command[1] != "respond" {
		t.Fatalf("the demo runs %q, want keygate respond", command)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := append([]string(nil), command[1:]...)
	listen := false
	for i := range args {
		if args[i] == "--listen" && i+1 < len(args) {
			args[i+1], listen = addr, true
		}
	}
	if !listen {
		t.Fatalf("the demo's command %q has no --listen", command)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = processEnv(t)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := os.Create(filepath.Join(t.TempDir(), "demo.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the demo: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(out.Name())
			t.Logf("the demo's output:\n%s", log)
		}
	})
	base := "http://" + addr
	poll.Until(t, 30*time.Second, "the demo answering", func() (bool, string) {
		resp, err := http.Get(base + "/")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return base
}
