package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// startCluster creates a throwaway cluster in a temporary directory and
// starts it on a free port of 127.0.0.1.
func startCluster() (c *Cluster, err error) {
	bin, err := findBinaries(debianPostgresRoot)
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	dir, err := makeDir(cred)
	if err != nil {
		return nil, err
	}
	c = &Cluster{dir: dir, bin: bin, cred: cred}
	defer func() {
		if err != nil {
			c.remove()
		}
	}()
	// The watchdog comes first, so that nothing below can outlive us.
	if err := c.startWatchdog(); err != nil {
		return nil, err
	}
	if err := c.run("initdb", "-D", c.dataDir(), "--username=postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync"); err != nil {
		return nil, err
	}
	if err := c.appendConfig("\ninclude_if_exists = 'pgtest.conf'\n"); err != nil {
		return nil, err
	}
	// Another process may take the free port before the server does: try
	// a few.
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		if err := c.configure(port); err != nil {
			return nil, err
		}
		err = c.pgctl("start", "-l", c.logFile(), "-t", "60")
		if err == nil {
			c.adminURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
			return c, nil
		}
		if attempt == 3 {
			return nil, fmt.Errorf("starting the test cluster: %w", err)
		}
	}
}

// serverCredential returns the postgres user's credential when running as
// root, since PostgreSQL refuses to run as root, and nil otherwise.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, which PostgreSQL refuses, and there is no postgres user to run it as (%v): "+
			"create one (useradd --system --user-group postgres), run the tests as another user, or set %s", err, EnvDatabaseURL)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("unexpected uid %q or gid %q of the postgres user", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// makeDir creates the cluster's directory, owned by the server's user. It
// must be reachable by that user, and short enough for a Unix socket path
// (108 bytes) inside it.
func makeDir(cred *syscall.Credential) (string, error) {
	base := os.TempDir()
	if len(base) > 64 || (cred != nil && !othersCanEnter(base)) {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "keygate-pgtest-")
	if err != nil {
		return "", fmt.Errorf("creating the test cluster's directory: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("giving the test cluster's directory to the postgres user: %w", err)
		}
	}
	return dir, nil
}

// othersCanEnter reports whether every directory from dir up to the root
// can be traversed by any user.
func othersCanEnter(dir string) bool {
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// configure writes the settings pg_ctl start reads: loopback only, the
// socket in our directory, and speed over durability.
func (c *Cluster) configure(port int) error {
	conf := fmt.Sprintf(`listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = '16MB'
max_connections = 100
`, port, strings.ReplaceAll(c.dir, "'", "''"))
	return c.writeFile(filepath.Join(c.dataDir(), "pgtest.conf"), []byte(conf), os.O_TRUNC)
}

func (c *Cluster) appendConfig(s string) error {
	return c.writeFile(filepath.Join(c.dataDir(), "postgresql.conf"), []byte(s), os.O_APPEND)
}

// writeFile writes a file of the data directory, owned by the server's
// user.
func (c *Cluster) writeFile(path string, data []byte, mode int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|mode, 0o600)
	if err != nil {
		return fmt.Errorf("writing the test cluster's configuration: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && c.cred != nil {
		err = os.Chown(path, int(c.cred.Uid), int(c.cred.Gid))
	}
	if err != nil {
		return fmt.Errorf("writing the test cluster's configuration: %w", err)
	}
	return nil
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
