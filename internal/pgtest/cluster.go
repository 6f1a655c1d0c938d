package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is the PostgreSQL server the tests use: a throwaway cluster this
// package started, or the external server of KEYGATE_TEST_DATABASE_URL.
type Cluster struct {
	adminURL string
	external bool

	// The rest is for a throwaway cluster only.
	dir      string              // holds data/, the socket and the server log
	bin      string              // directory of initdb and pg_ctl
	cred     *syscall.Credential // the postgres user's, when running as root
	watchdog *exec.Cmd
	release  *os.File // closing it makes the watchdog remove the cluster

	mu      sync.Mutex
	stopped bool
}

// AdminURL returns the URL of a superuser connection to the server's
// maintenance database.
func (c *Cluster) AdminURL() string { return c.adminURL }

// External reports whether the server is the one of
// KEYGATE_TEST_DATABASE_URL, which tests must not stop.
func (c *Cluster) External() bool { return c.external }

// Stop shuts the throwaway cluster down, to simulate a database outage,
// until Start or the end of the test. Clients of every database lose their
// connections. A test that stops the cluster must not run in parallel with
// other tests of its binary. Stop fails the test if the server is external.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	c.mustOwn(t, "stop")
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	if err := c.pgctl("stop", "-m", "fast"); err != nil {
		t.Fatalf("pgtest: stopping the test cluster: %v", err)
	}
	c.stopped = true
	t.Cleanup(func() {
		if err := c.start(); err != nil {
			t.Errorf("pgtest: restarting the test cluster after the test: %v", err)
		}
	})
}

// Start starts the throwaway cluster again after Stop, on the same port
// and data directory, and returns once it accepts connections. It fails
// the test if the server is external.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	c.mustOwn(t, "start")
	if err := c.start(); err != nil {
		t.Fatalf("pgtest: starting the test cluster: %v", err)
	}
}

func (c *Cluster) mustOwn(t testing.TB, verb string) {
	t.Helper()
	if c.external {
		t.Fatalf("pgtest: cannot %s the external PostgreSQL server of %s: "+
			"a test that needs an outage must skip when Cluster.External() is true", verb, EnvDatabaseURL)
	}
}

// start starts the cluster if it is stopped.
func (c *Cluster) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped {
		return nil
	}
	if err := c.pgctl("start", "-l", c.logFile(), "-t", "60"); err != nil {
		return err
	}
	c.stopped = false
	return nil
}

// externalCluster checks that raw is a postgres URL that accepts
// connections.
func externalCluster(raw string) (*Cluster, error) {
	// The URL may hold a password: no error below repeats it.
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return nil, fmt.Errorf("%s must be a URL like postgres://user:password@127.0.0.1:5432/postgres", EnvDatabaseURL)
	}
	c := &Cluster{adminURL: raw, external: true}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.exec(ctx, "SELECT 1"); err != nil {
		return nil, fmt.Errorf("connecting to the server of %s (%s): %w", EnvDatabaseURL, u.Host, err)
	}
	return c, nil
}

// exec runs one statement on a new admin connection: a shared one would
// not survive Stop.
func (c *Cluster) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// dataDir returns the cluster's data directory.
func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) logFile() string { return filepath.Join(c.dir, "postgres.log") }

// pgctl runs pg_ctl with action on the cluster, waiting for it to finish.
func (c *Cluster) pgctl(action string, args ...string) error {
	return c.run("pg_ctl", append([]string{action, "-D", c.dataDir(), "-w", "-s"}, args...)...)
}

// run runs one of the server programs as the server's user and reports
// its output and the server log's end when it fails.
func (c *Cluster) run(program string, args ...string) error {
	cmd := c.command(filepath.Join(c.bin, program), args...)
	// pg_ctl start leaves the server running with the log file as output,
	// so no pipe should stay open; WaitDelay guards against one that does.
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s%s", program, strings.Join(args, " "), err, out, c.logTail())
	}
	return nil
}

// command prepares a process that runs as the server's user, in its own
// process group so that a terminal's ^C reaches the test binary only and
// the cluster is removed in order.
func (c *Cluster) command(path string, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.cred}
	return cmd
}

// logTail returns the end of the server log, for error messages.
func (c *Cluster) logTail() string {
	b, err := os.ReadFile(c.logFile())
	if err != nil || len(b) == 0 {
		return ""
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return "server log (end):\n" + string(b)
}

// remove stops the cluster and deletes its directory, through the
// watchdog.
func (c *Cluster) remove() error {
	if c.watchdog == nil {
		return os.RemoveAll(c.dir)
	}
	c.release.Close()
	done := make(chan error, 1)
	go func() { done <- c.watchdog.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("watchdog: %w", err)
		}
	case <-time.After(time.Minute):
		return errors.New("the watchdog did not finish within a minute")
	}
	if _, err := os.Stat(c.dir); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s still exists after the cluster was removed", c.dir)
	}
	return nil
}
