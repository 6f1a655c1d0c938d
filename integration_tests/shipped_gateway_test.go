package integration_tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// shippedGateway is a gateway running one of the repository's own
// Caddyfiles as it is, but for the addresses it listens on.
type shippedGateway struct {
	*gateway
	// Port is the gateway's site port on 127.0.0.1, and AdminHost its admin
	// listener's host:port.
	Port      int
	AdminHost string
	// DemoURL is Caddyfile.example's demo integration; empty for
	// deploy/Caddyfile.
	DemoURL string
}

// startCaddyfileExample runs Caddyfile.example on h's store (named by
// KEYGATE_DATABASE_URL, as the file reads it), its three addresses moved to
// free ports.
func (h *harness) startCaddyfileExample() *shippedGateway {
	h.t.Helper()
	example, err := os.ReadFile(repoPath(h.t, "Caddyfile.example"))
	if err != nil {
		h.t.Fatal(err)
	}
	sg := &shippedGateway{}
	sg.gateway = h.retryOnTakenPort("Caddyfile.example", func() (*gateway, error) {
		port, demoPort, adminPort := freePort(h.t), freePort(h.t), freePort(h.t)
		conf := strings.NewReplacer(
			"127.0.0.1:8080", fmt.Sprintf("127.0.0.1:%d", port),
			"127.0.0.1:9001", fmt.Sprintf("127.0.0.1:%d", demoPort),
			"127.0.0.1:2019", fmt.Sprintf("127.0.0.1:%d", adminPort),
		).Replace(string(example))
		sg.Port, sg.AdminHost = port, fmt.Sprintf("127.0.0.1:%d", adminPort)
		sg.DemoURL = fmt.Sprintf("http://127.0.0.1:%d", demoPort)
		return h.launchShipped(conf, port, adminPort, nil)
	})
	return sg
}

// startDeployCaddyfile runs deploy/Caddyfile as it is on h's store, with
// the environment a deployment gives it: KEYGATE_SITE the plain-HTTP
// site :<port> (the default :80 moved), KEYGATE_BIND 127.0.0.1,
// KEYGATE_ADMIN a free port, KEYGATE_DATABASE_URL h's database.
func (h *harness) startDeployCaddyfile() *shippedGateway {
	h.t.Helper()
	conf, err := os.ReadFile(repoPath(h.t, "deploy/Caddyfile"))
	if err != nil {
		h.t.Fatal(err)
	}
	sg := &shippedGateway{}
	sg.gateway = h.retryOnTakenPort("deploy/Caddyfile", func() (*gateway, error) {
		port, adminPort := freePort(h.t), freePort(h.t)
		sg.Port, sg.AdminHost = port, fmt.Sprintf("127.0.0.1:%d", adminPort)
		return h.launchShipped(string(conf), port, adminPort, []string{
			fmt.Sprintf("KEYGATE_SITE=:%d", port),
			"KEYGATE_BIND=127.0.0.1",
			"KEYGATE_ADMIN=" + sg.AdminHost,
		})
	})
	return sg
}

// launchShipped runs `keygate run` on conf, which logs JSON to standard
// error, with the store's KEYGATE_DATABASE_URL and env.
func (h *harness) launchShipped(conf string, port, adminPort int, env []string) (*gateway, error) {
	dir := h.t.TempDir()
	confPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	stderr := filepath.Join(dir, "stderr.log")
	g := &gateway{
		URL:      fmt.Sprintf("http://127.0.0.1:%d", port),
		AdminURL: fmt.Sprintf("http://127.0.0.1:%d", adminPort),
		LogPath:  stderr, stderrPath: stderr,
		h: h, exited: make(chan struct{}),
	}
	cmd := exec.Command(keygateBin, "run", "--config", confPath)
	cmd.Env = append(processEnv(h.t), h.env...)
	cmd.Env = append(cmd.Env, "KEYGATE_DATABASE_URL="+h.dbURL)
	cmd.Env = append(cmd.Env, env...)
	return g, g.launch(cmd)
}
