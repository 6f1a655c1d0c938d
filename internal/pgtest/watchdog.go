package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// watchdogScript waits for the end of its standard input, then stops the
// cluster and deletes its directory. Arguments: pg_ctl, data directory,
// cluster directory.
const watchdogScript = `cat >/dev/null
"$1" stop -D "$2" -m immediate -w -s >/dev/null 2>&1
rm -rf "$3"`

// startWatchdog starts a shell, in its own process group, that removes the
// cluster when this process closes the pipe on its standard input. The
// test binary holds the only writing end, so the pipe ends when the binary
// ends in any way — through Main, a panic in a test, a timeout or SIGKILL —
// and the cluster never outlives the tests.
func (c *Cluster) startWatchdog() error {
	r, w, err := os.Pipe() // close-on-exec: no other child inherits w
	if err != nil {
		return fmt.Errorf("starting the test cluster's watchdog: %w", err)
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", watchdogScript, "pgtest-watchdog",
		filepath.Join(c.bin, "pg_ctl"), c.dataDir(), c.dir)
	cmd.Stdin = r
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.cred}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("starting the test cluster's watchdog: %w", err)
	}
	c.watchdog, c.release = cmd, w
	return nil
}
