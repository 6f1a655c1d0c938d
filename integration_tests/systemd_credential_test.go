package integration_tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdCredentialTimer checks the README's timer for `keygate
// credential rotate`: the service runs the command on the instance's key
// file, and systemd-analyze verify has nothing to say of either unit.
func TestSystemdCredentialTimer(t *testing.T) {
	t.Parallel()
	requireBinary(t)
	svcPath := repoPath(t, "deploy/keygate-credential-rotate@.service")
	timerPath := repoPath(t, "deploy/keygate-credential-rotate@.timer")
	svc := readUnit(t, svcPath)
	want := installedBinary + " credential rotate --url ${KEYGATE_ROTATE_URL} --key-file /etc/keygate-credentials/%i.key"
	if got := svc.value("Service", "ExecStart"); got != want {
		t.Errorf("ExecStart=%s, want %s", got, want)
	}
	if got := svc.value("Service", "Type"); got != "oneshot" {
		t.Errorf("Type=%s, want oneshot", got)
	}
	timer := readUnit(t, timerPath)
	if timer.value("Timer", "OnUnitActiveSec") == "" || timer.value("Install", "WantedBy") != "timers.target" {
		t.Errorf("timer: OnUnitActiveSec=%q, WantedBy=%q", timer.value("Timer", "OnUnitActiveSec"), timer.value("Install", "WantedBy"))
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze, which checks the units, is not installed (.ci/run installs systemd): %v", err)
	}
	// Instances of both, as installed, but for the binary and the
	// environment file, which must exist.
	dir := t.TempDir()
	env := filepath.Join(dir, "billing.env")
	writeFile(t, env, "KEYGATE_ROTATE_URL=http://127.0.0.1:1/keygate/rotate\n")
	unit := filepath.Join(dir, "keygate-credential-rotate@billing.service")
	writeFile(t, unit, strings.NewReplacer(installedBinary, keygateBin, "/etc/keygate-credentials/%i.env", env).Replace(readText(t, svcPath)))
	timerUnit := filepath.Join(dir, "keygate-credential-rotate@billing.timer")
	writeFile(t, timerUnit, readText(t, timerPath))
	out, err := exec.Command(analyze, "verify", "--man=no", "--generators=no", unit, timerUnit).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// readText returns the file at path, failing t on error.
func readText(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
