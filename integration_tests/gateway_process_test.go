package integration_tests

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/keygate/keygate/internal/poll"
)

// gatewayConfig is what varies between the gateways of the tests.
type gatewayConfig struct {
	// DatabaseURL is the gateway's key store; default the test's database
	// (none for a harness of the default store).
	DatabaseURL string
	// CacheTTL is the keygate app's cache_ttl; default 1s.
	CacheTTL string
	// StaleTTL is the keygate app's stale_ttl; default keygate's.
	StaleTTL string
	// PinnedUpstream is the host:port the /pinned/ route proxies to with a
	// plain reverse_proxy; default a port nothing listens on.
	PinnedUpstream string
	// FailedAuthLimit is the keygate app's failed_auth_limit; default off,
	// as tests send many bad keys from 127.0.0.1.
	FailedAuthLimit string
	// MaxKeyAge and LastUsedInterval are the keygate app's max_key_age and
	// last_used_interval; default keygate's.
	MaxKeyAge, LastUsedInterval string
	// TokenTTL is the /oauth/token endpoint's token_ttl; default keygate's.
	TokenTTL string
	// SigningKeySecret, when set, is the keygate app's signing_key_secret,
	// given as {env.KEYGATE_SIGNING_KEY_SECRET} in the gateway's
	// environment; default none.
	SigningKeySecret string
}

// caddyfile is every test gateway's configuration. Its routes:
//
//	/pinned/*          pinned to integration "pinned", plain reverse_proxy
//	/by-name/<id>/*    pinned by a path_regexp placeholder
//	/stripped/*        any integration, behind handle_path's prefix strip
//	/forward/*         any integration, Authorization forwarded
//	/oauth/token       the token endpoint (keygate_token)
//	/jwks.json         the token signing keys (keygate_jwks)
//	/keygate/rotate    a key's own rotation (keygate_rotate)
//	everything else    any integration, proxied to its base URL
var caddyfile = template.Must(template.New("Caddyfile").Parse(`{
	admin 127.0.0.1:{{.AdminPort}}
	persist_config off
	auto_https off
	default_bind 127.0.0.1
	log {
		output file "{{.LogPath}}"
		format json
		level DEBUG
	}
	keygate {
		{{- with .DatabaseURL}}
		database "{{.}}"
		{{- end}}
		cache_ttl {{.CacheTTL}}
		failed_auth_limit {{.FailedAuthLimit}}
		{{- with .StaleTTL}}
		stale_ttl {{.}}
		{{- end}}
		{{- with .MaxKeyAge}}
		max_key_age {{.}}
		{{- end}}
		{{- with .LastUsedInterval}}
		last_used_interval {{.}}
		{{- end}}
		{{- if .SigningKeySecret}}
		signing_key_secret {env.KEYGATE_SIGNING_KEY_SECRET}
		{{- end}}
	}
}

http://127.0.0.1:{{.Port}} {
	keygate_token /oauth/token {
		{{- with .TokenTTL}}
		token_ttl {{.}}
		{{- end}}
	}
	keygate_jwks /jwks.json
	keygate_rotate /keygate/rotate
	handle /pinned/* {
		keygate {
			integration pinned
		}
		reverse_proxy {{.PinnedUpstream}}
	}
	@byname path_regexp byname ^/by-name/([a-z0-9_-]+)/
	handle @byname {
		keygate {
			integration {re.byname.1}
		}
		reverse_proxy {
			dynamic keygate
		}
	}
	handle_path /stripped/* {
		keygate
		reverse_proxy {
			dynamic keygate
		}
	}
	handle /forward/* {
		keygate {
			forward_credentials
		}
		reverse_proxy {
			dynamic keygate
		}
	}
	handle {
		keygate
		reverse_proxy {
			dynamic keygate
		}
	}
}
`))

// gateway is a running `keygate run` process.
type gateway struct {
	// URL is the gateway's base URL, http://127.0.0.1:port.
	URL string
	// LogPath is the file of its JSON log.
	LogPath string
	// AdminURL is the base URL of its admin endpoint.
	AdminURL string

	h          *harness
	stderrPath string
	cmd        *exec.Cmd
	exited     chan struct{} // closed when the process has ended
	exitErr    error         // how it ended, once exited is closed
	stopOnce   sync.Once
}

// startupTimeout bounds a gateway's start, migrations included.
const startupTimeout = 60 * time.Second

// startGateway starts a gateway and waits until it serves; it is stopped
// when the test ends. Another process may take a free port first: it
// tries a few times.
func (h *harness) startGateway(cfg gatewayConfig) *gateway {
	h.t.Helper()
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = h.dbURL
	}
	if cfg.CacheTTL == "" {
		cfg.CacheTTL = "1s"
	}
	if cfg.PinnedUpstream == "" {
		cfg.PinnedUpstream = "127.0.0.1:1"
	}
	if cfg.FailedAuthLimit == "" {
		cfg.FailedAuthLimit = "off"
	}
	return h.retryOnTakenPort("the gateway", func() (*gateway, error) { return h.tryStartGateway(cfg) })
}

// retryOnTakenPort calls try, which starts a gateway on fresh ports, until
// it succeeds: another process may take a free port first, so it tries a
// few times. It fails the test on another error.
func (h *harness) retryOnTakenPort(what string, try func() (*gateway, error)) *gateway {
	h.t.Helper()
	for attempt := 1; ; attempt++ {
		g, err := try()
		if err == nil {
			return g
		}
		if attempt == 3 || !errors.Is(err, errPortTaken) {
			h.t.Fatalf("starting %s: %v", what, err)
		}
	}
}

// errPortTaken says a gateway could not listen on a port found free.
var errPortTaken = errors.New("port taken")

// tryStartGateway starts a gateway on fresh ports once.
func (h *harness) tryStartGateway(cfg gatewayConfig) (*gateway, error) {
	dir := h.t.TempDir()
	port, adminPort := freePort(h.t), freePort(h.t)
	g := &gateway{
		URL:        fmt.Sprintf("http://127.0.0.1:%d", port),
		LogPath:    filepath.Join(dir, "keygate.log"),
		AdminURL:   fmt.Sprintf("http://127.0.0.1:%d", adminPort),
		h:          h,
		stderrPath: filepath.Join(dir, "stderr.log"),
		exited:     make(chan struct{}),
	}
	var conf bytes.Buffer
	if err := caddyfile.Execute(&conf, map[string]any{
		"AdminPort": adminPort, "Port": port, "LogPath": g.LogPath,
		"DatabaseURL": cfg.DatabaseURL, "CacheTTL": cfg.CacheTTL, "StaleTTL": cfg.StaleTTL,
		"PinnedUpstream": cfg.PinnedUpstream, "FailedAuthLimit": cfg.FailedAuthLimit,
		"MaxKeyAge": cfg.MaxKeyAge, "LastUsedInterval": cfg.LastUsedInterval, "TokenTTL": cfg.TokenTTL,
		"SigningKeySecret": cfg.SigningKeySecret != "",
	}); err != nil {
		return nil, fmt.Errorf("writing the Caddyfile: %w", err)
	}
	confPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o600); err != nil {
		return nil, fmt.Errorf("writing the Caddyfile: %w", err)
	}
	cmd := exec.Command(keygateBin, "run", "--config", confPath, "--adapter", "caddyfile")
	cmd.Env = append(processEnv(h.t), h.env...)
	if cfg.SigningKeySecret != "" {
		cmd.Env = append(cmd.Env, "KEYGATE_SIGNING_KEY_SECRET="+cfg.SigningKeySecret)
	}
	if err := g.launch(cmd); err != nil {
		return nil, err
	}
	return g, nil
}

// launch starts cmd as g's process, its standard output and error going
// to g.stderrPath, and waits until g serves; g is stopped when the test
// ends. It returns an error wrapping errPortTaken if g could not listen.
func (g *gateway) launch(cmd *exec.Cmd) error {
	stderr, err := os.Create(g.stderrPath)
	if err != nil {
		return fmt.Errorf("creating the stderr file: %w", err)
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = new(syscall.SysProcAttr)
	}
	// Never outlive the test binary, however it ends.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	g.cmd = cmd
	if err := g.cmd.Start(); err != nil {
		return fmt.Errorf("starting keygate %s: %w", strings.Join(cmd.Args[1:2], ""), err)
	}
	go func() {
		g.exitErr = g.cmd.Wait()
		close(g.exited)
	}()
	if err := g.waitReady(); err != nil {
		g.kill()
		out := g.outputs()
		if strings.Contains(out, "address already in use") {
			return fmt.Errorf("%w: %v", errPortTaken, err)
		}
		return fmt.Errorf("%w\n%s", err, g.tail(out))
	}
	g.h.t.Cleanup(g.stop)
	return nil
}

// waitReady polls the gateway until its keygate handler answers: a request
// without credentials gets keygate's 401.
func (g *gateway) waitReady() error {
	deadline := time.Now().Add(startupTimeout)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-g.exited:
			return fmt.Errorf("keygate run exited during startup: %v", g.exitErr)
		default:
		}
		resp, err := client.Get(g.URL + "/__ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized &&
				strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="keygate"`) {
				return nil
			}
			return fmt.Errorf("readiness probe: status %d and WWW-Authenticate %q, want keygate's 401",
				resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway not serving after %v: %v", startupTimeout, err)
		}
		time.Sleep(poll.Interval) // polling readiness
	}
}

// stop sends SIGTERM and waits for a clean exit, then checks that nothing
// the gateway printed or logged holds a key, and shows the end of its log
// if the test failed. A test may stop its gateway before it ends; it is
// stopped once.
func (g *gateway) stop() { g.stopOnce.Do(g.stopNow) }

func (g *gateway) stopNow() {
	t := g.h.t
	select {
	case <-g.exited:
		t.Errorf("the gateway exited before the end of the test: %v", g.exitErr)
	default:
		if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("sending SIGTERM to the gateway: %v", err)
		}
		select {
		case <-g.exited:
			if g.exitErr != nil {
				t.Errorf("the gateway did not exit cleanly on SIGTERM: %v", g.exitErr)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("the gateway did not exit within 20s of SIGTERM")
			g.kill()
		}
	}
	out := g.outputs()
	if leaksDecoded(g.h, out) != "" {
		t.Errorf("the gateway's log or standard error holds a key or part of one")
	}
	if t.Failed() {
		t.Logf("gateway output:\n%s", g.tail(out))
	}
}

// kill ends the process at once and waits for it.
func (g *gateway) kill() {
	_ = g.cmd.Process.Kill()
	<-g.exited
}

// outputs returns the gateway's standard error and log file.
func (g *gateway) outputs() string {
	stderr, _ := os.ReadFile(g.stderrPath)
	log, _ := os.ReadFile(g.LogPath)
	return string(stderr) + string(log)
}

// tail returns the last lines of out, unless it holds a key, in any
// encoding.
func (g *gateway) tail(out string) string {
	if leaksDecoded(g.h, out) != "" {
		return "(not shown: it holds a key or part of one)"
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	return strings.Join(lines, "\n")
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
