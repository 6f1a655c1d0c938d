package integration_tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// xcaddyVersion is the xcaddy the test installs from the Go module proxy.
const xcaddyVersion = "v0.4.5"

// TestXcaddyBuild brings keygate into a Caddy built the way operators
// build theirs: it installs xcaddy, runs `xcaddy build <Caddy version of
// go.mod> --with github.com/keygate/keygate=<this checkout>`, and checks
// that the Caddy it built has keygate's modules and command line, and
// names keygate's module in its build info. It needs only the Go module
// proxy (or a module cache that has everything). It builds Caddy: a
// minute and a half with a cold build cache on two cores, seconds warm.
func TestXcaddyBuild(t *testing.T) {
	requireBinary(t) // not in -short mode: it builds Caddy
	dir := t.TempDir()
	env := xcaddyEnv(t, dir)

	start := time.Now()
	goRun(t, env, dir, 5*time.Minute, "go", "install", "github.com/caddyserver/xcaddy/cmd/xcaddy@"+xcaddyVersion)
	t.Logf("xcaddy %s installed in %v", xcaddyVersion, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	caddy := filepath.Join(dir, "caddy")
	caddyVersion := requiredVersion(t, "github.com/caddyserver/caddy/v2")
	goRun(t, env, dir, 10*time.Minute, filepath.Join(dir, "bin", "xcaddy"), "build", caddyVersion,
		"--with", "github.com/keygate/keygate="+repoPath(t, "."), "--output", caddy)
	t.Logf("xcaddy build %s done in %v", caddyVersion, time.Since(start).Round(time.Millisecond))

	modules := runCommand(t, caddy, []string{"list-modules"}, nil)
	for _, id := range []string{"keygate", "http.handlers.keygate", "http.reverse_proxy.upstreams.keygate", "admin.api.keygate"} {
		if !containsLine(modules.stdout, id) {
			t.Errorf("caddy list-modules does not list %s", id)
		}
	}
	for cmd, sub := range map[string]string{"keys": "create", "integrations": "add"} {
		res := runCommand(t, caddy, []string{cmd, "--help"}, nil)
		if res.code != 0 || !strings.Contains(res.stdout, sub) {
			t.Errorf("caddy %s --help: exit code %d, want 0 and its %s subcommand:\n%s%s", cmd, res.code, sub, res.stdout, res.stderr)
		}
	}
	if v := runCommand(t, caddy, []string{"version"}, nil); !strings.HasPrefix(v.stdout, caddyVersion+" ") {
		t.Errorf("caddy version: %q, want Caddy's own %s", v.stdout, caddyVersion)
	}
	// keygate's version, in a Caddy of the operator's: its module in the
	// build info, here the replacement by this checkout.
	info := runCommand(t, caddy, []string{"build-info"}, nil).stdout
	if !strings.Contains(info, "dep\tgithub.com/keygate/keygate\t") || !strings.Contains(info, "=>\t"+repoPath(t, ".")+"\t") {
		t.Errorf("caddy build-info does not name github.com/keygate/keygate => %s:\n%s", repoPath(t, "."), info)
	}
}

// xcaddyEnv returns the environment of xcaddy and the go commands it runs:
// installs into dir/bin, temporary files in dir, and GOPROXY such that the
// replaced keygate module resolves. xcaddy runs `go get
// github.com/keygate/keygate`; the go command takes a replaced module from
// its replacement only when the proxies say they do not have it, and some
// answer 403 rather than 404: each proxy of `go env GOPROXY` falls back on
// any error ("|"), and "off" ends the list with a plain "not found".
func xcaddyEnv(t *testing.T, dir string) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOPROXY").Output()
	if err != nil {
		t.Fatalf("go env GOPROXY: %v", err)
	}
	var proxies []string
	for _, p := range strings.FieldsFunc(strings.TrimSpace(string(out)), func(r rune) bool { return r == ',' || r == '|' }) {
		if p != "direct" && p != "off" {
			proxies = append(proxies, p)
		}
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(),
		"GOBIN="+filepath.Join(dir, "bin"),
		"GOPROXY="+strings.Join(append(proxies, "off"), "|"),
		"GOFLAGS=-mod=mod",
		"GOWORK=off",
		"TMPDIR="+tmp,
	)
}

// goRun runs a go command (or xcaddy) in dir with env, failing t with its
// output if it fails or takes longer than timeout.
func goRun(t *testing.T, env []string, dir string, timeout time.Duration, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env, cmd.Dir = env, dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, lastLines(out.String(), 40))
	}
}

// requiredVersion returns the version of module that go.mod requires.
func requiredVersion(t *testing.T, module string) string {
	t.Helper()
	data, err := os.ReadFile(repoPath(t, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == module {
			return f[1]
		}
	}
	t.Fatalf("go.mod does not require %s", module)
	return ""
}

// containsLine reports whether text has a line that is exactly line.
func containsLine(text, line string) bool {
	for l := range strings.SplitSeq(text, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

// lastLines returns the last n lines of text.
func lastLines(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("(%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
