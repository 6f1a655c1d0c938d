package integration_tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// result is what one run of the keygate command line printed, and how it
// exited.
type result struct {
	stdout, stderr string
	code           int
}

// runKeygate runs the binary with args and the extra environment env
// (KEY=value), with no KEYGATE_DATABASE_URL unless env sets it.
func runKeygate(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runCommand(t, keygateBin, args, func(cmd *exec.Cmd) { cmd.Env = append(processEnv(t), env...) })
}

// runCommand runs bin with args, within a minute, once setup (if not nil)
// has set the command's environment, user or directory.
func runCommand(t *testing.T, bin string, args []string, setup func(*exec.Cmd)) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	if setup != nil {
		setup(cmd)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running %s %s: %v", filepath.Base(bin), strings.Join(args[:min(len(args), 1)], ""), err)
	}
	return res
}

// processEnv is the environment of every keygate process: PATH, and a
// home and Caddy data directories of the test's own.
func processEnv(t *testing.T) []string {
	home := t.TempDir()
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + home + "/config",
		"XDG_DATA_HOME=" + home + "/data",
	}
}

// cli runs the keygate command line on the test's database.
func (h *harness) cli(args ...string) result {
	h.t.Helper()
	return runKeygate(h.t, append([]string{"KEYGATE_DATABASE_URL=" + h.dbURL}, h.env...), args...)
}

// mustCLI runs a command line that must succeed and returns its standard
// output. A failure shows standard error only: standard output may hold a
// key.
func (h *harness) mustCLI(args ...string) string {
	h.t.Helper()
	res := h.cli(args...)
	if res.code != 0 {
		h.t.Fatalf("keygate %s: exit code %d, stderr:\n%s", strings.Join(args, " "), res.code, res.stderr)
	}
	if h.leaks(res.stderr) {
		h.t.Fatalf("keygate %s: standard error holds a key", strings.Join(args, " "))
	}
	return res.stdout
}

// addIntegration adds an integration through the command line.
func (h *harness) addIntegration(id, baseURL string) {
	h.t.Helper()
	h.mustCLI("integrations", "add", id, "--base-url", baseURL)
}

// createdKey is the output of `keygate keys create --json`. It prints as
// its id only, so that a key never lands in test output by accident.
type createdKey struct {
	ID          string     `json:"id"`
	Key         string     `json:"key"`
	Name        string     `json:"name"`
	Integration string     `json:"integration"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

func (k createdKey) String() string   { return k.ID }
func (k createdKey) GoString() string { return k.ID }

// createKey creates a key through the command line, with extra flags, and
// remembers it as a secret.
func (h *harness) createKey(integration, name string, flags ...string) createdKey {
	h.t.Helper()
	args := append([]string{"keys", "create", "--integration", integration, "--name", name, "--json"}, flags...)
	out := h.mustCLI(args...)
	var k createdKey
	decodeJSON(h.t, out, &k)
	if k.Key == "" || k.ID == "" {
		h.t.Fatalf("keys create --json: no key or no id in the output")
	}
	h.remember(k.Key)
	return k
}

// keyRecord is one element of `keygate keys list --json`.
type keyRecord struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Integration string     `json:"integration"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
}

// listKeys returns `keygate keys list --json` with extra flags.
func (h *harness) listKeys(flags ...string) []keyRecord {
	h.t.Helper()
	var keys []keyRecord
	decodeJSON(h.t, h.mustCLI(append([]string{"keys", "list", "--json"}, flags...)...), &keys)
	return keys
}

// decodeJSON decodes text into v, failing t without showing text, which
// may hold a key.
func decodeJSON(t *testing.T, text string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(text), v); err != nil {
		t.Fatalf("decoding JSON output (%d bytes): %v", len(text), err)
	}
}
