package integration_tests

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// installedBinary and installedConfig are where deploy/keygate.service's
// install steps put the binary and deploy/Caddyfile.
const (
	installedBinary = "/usr/bin/keygate"
	installedConfig = "/etc/keygate/Caddyfile"
)

// TestSystemdUnit checks deploy/keygate.service as Caddy's own
// caddy.service is built, then has systemd itself check it: systemd-analyze
// verify must have nothing to say (it warns, and exits 0, on an unknown
// key or a bad value), and its offline security review must stay at the
// level the hardening gives.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	requireBinary(t)
	path := repoPath(t, "deploy/keygate.service")
	u := readUnit(t, path)
	for _, want := range []struct{ key, value string }{
		{"Type", "notify"},
		{"User", "keygate"},
		{"ExecStart", installedBinary + " run --config " + installedConfig + " --adapter caddyfile"},
		{"ExecReload", installedBinary + " reload --config " + installedConfig + " --adapter caddyfile --force"},
		{"EnvironmentFile", "/etc/keygate/keygate.env"},
		{"AmbientCapabilities", "CAP_NET_BIND_SERVICE"},
		{"CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"},
		{"NoNewPrivileges", "true"},
		{"ProtectSystem", "strict"},
		{"ReadWritePaths", "/var/lib/keygate"},
		{"ProtectHome", "true"},
		{"PrivateTmp", "true"},
		{"LimitNOFILE", "1048576"},
		{"TimeoutStopSec", "5s"},
	} {
		if got := u.value("Service", want.key); got != want.value {
			t.Errorf("[Service] %s=%s, want %s", want.key, got, want.value)
		}
	}
	if got := u.value("Install", "WantedBy"); got != "multi-user.target" {
		t.Errorf("[Install] WantedBy=%s, want multi-user.target", got)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze, which checks the unit, is not installed (.ci/run installs systemd): %v", err)
	}
	// The unit as installed, but for the binary, which must exist.
	unit := installedUnit(t, path)
	out, err := exec.Command(analyze, "verify", "--man=no", "--generators=no", unit).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(analyze, "security", "--offline=true", "--threshold=25", "--no-pager", unit).CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Errorf("systemd-analyze security: %v: the unit's exposure went above 2.5: %s", err, lines[len(lines)-1])
	}

	// verify has something to say about a unit that is wrong.
	bad := filepath.Join(filepath.Dir(unit), "bad.service")
	writeFile(t, bad, "[Service]\nType=notify\nExecStart="+keygateBin+" run\nProtectSystem=everything\n")
	if out, _ := exec.Command(analyze, "verify", "--man=no", "--generators=no", bad).CombinedOutput(); len(out) == 0 {
		t.Errorf("systemd-analyze verify says nothing of ProtectSystem=everything: the check above cannot fail")
	}
}

// installedUnit writes a copy of the unit at path whose commands run the
// test's binary, as systemd would find it, and returns its path.
func installedUnit(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "keygate.service")
	writeFile(t, unit, strings.ReplaceAll(string(data), installedBinary, keygateBin))
	return unit
}

// writeFile writes content to path, failing t on error.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSystemdNotifyAndReload runs the unit's ExecStart as systemd would:
// as a user who is not root, with its Environment= and its EnvironmentFile
// (keygate.env.example, on the test's database), and a NOTIFY_SOCKET.
// Type=notify holds only if keygate sends READY=1 once it serves; then
// ExecReload must succeed and bracket the reload with RELOADING=1 and
// READY=1, as `systemctl reload` expects.
func TestSystemdNotifyAndReload(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// A binary the service's user may run (`make build-static`).
	bin := imageBinary(t)
	u := readUnit(t, repoPath(t, "deploy/keygate.service"))
	// The service's file system: what its install steps put there, with
	// systemd's default WorkingDirectory, /; User=keygate is nobody here.
	ctr := newSandbox(t, "/")
	ctr.mount(installedConfig, repoPath(t, "deploy/Caddyfile"))
	for _, dir := range strings.Fields(u.value("Service", "ReadWritePaths")) {
		ctr.mkdir(dir, true) // StateDirectory=
	}
	ctr.mkdir("/run", false)
	notify := listenNotify(t, ctr.path("/run/notify.sock"))

	env := []string{"PATH=" + os.Getenv("PATH"), "NOTIFY_SOCKET=" + notify.path}
	for _, e := range u["Service"]["Environment"] {
		k, v, _ := strings.Cut(e, "=")
		env = append(env, k+"="+ctr.mapped(v))
	}
	for k, v := range readEnvFile(t, repoPath(t, "deploy/keygate.env.example")) {
		env = append(env, k+"="+v)
	}
	env = append(env, "KEYGATE_DATABASE_URL="+h.dbURL)

	g, gwEnv := ctr.startGateway(h, bin, unitCommand(t, u, "ExecStart"), env)
	// Caddy sends RELOADING=1 before its first config too.
	notify.expect(t, "READY=1")

	// systemctl reload keygate
	reload := unitCommand(t, u, "ExecReload")
	if res := runCommand(t, bin, reload[1:], ctr.setup(gwEnv)); res.code != 0 {
		t.Fatalf("ExecReload: exit code %d:\n%s", res.code, res.stderr)
	}
	notify.expect(t, "RELOADING=1")
	notify.expect(t, "READY=1")
	if r := g.get(t, "/after-reload", ""); r.status != 401 {
		t.Errorf("after the reload: status %d, want keygate's 401", r.status)
	}
}

// unitCommand returns the command line of the unit's key (ExecStart,
// ExecReload), with keygate first.
func unitCommand(t *testing.T, u unitFile, key string) []string {
	t.Helper()
	argv := strings.Fields(u.value("Service", key))
	if len(argv) == 0 || argv[0] != installedBinary {
		t.Fatalf("%s=%s: want %s first", key, u.value("Service", key), installedBinary)
	}
	argv[0] = "keygate"
	return argv
}

// notifySocket is a stand-in for systemd's notification socket: it
// receives what the service sends with sd_notify.
type notifySocket struct {
	path     string
	messages chan string
}

// listenNotify listens on a datagram socket at path that any user may
// send to, until the test ends.
func listenNotify(t *testing.T, path string) *notifySocket {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listening on the notify socket: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	n := &notifySocket{path: path, messages: make(chan string, 64)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				close(n.messages)
				return
			}
			n.messages <- string(buf[:k])
		}
	}()
	return n
}

// expect waits until a message sets want (READY=1, RELOADING=1), passing
// over the others, and fails t if none does in time.
func (n *notifySocket) expect(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(startupTimeout)
	for {
		select {
		case msg, ok := <-n.messages:
			if !ok {
				t.Fatalf("the notify socket closed before %s", want)
			}
			if slices.Contains(strings.Split(msg, "\n"), want) {
				return
			}
		case <-timeout:
			t.Fatalf("no sd_notify %s within %v", want, startupTimeout)
		}
	}
}
