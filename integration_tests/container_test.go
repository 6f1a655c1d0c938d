package integration_tests

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// container stands for a container of the image on this machine, without
// a container engine: a directory laid out as the image's file system (its
// volumes, its WORKDIR, the files it COPYs from the repository), its
// environment, and its non-root user.
type container struct {
	t    *testing.T
	root string // the directory that stands for the container's /
	// image is the Dockerfile's last stage; nil in a sandbox that stands
	// for a systemd service.
	image dockerfile
	// workdir is the working directory of its processes, a path of the
	// container: the image's WORKDIR.
	workdir string
	// cred runs processes as nobody, when the tests run as root; nil
	// otherwise, when they already run as a user who is not root.
	cred *syscall.Credential
	uid  int // the uid processes run as
}

// newContainer lays out a container of the image, removed when the test
// ends.
func newContainer(t *testing.T) *container {
	t.Helper()
	stages := readDockerfile(t)
	image := stages[len(stages)-1]
	if u := image.one(t, "USER"); u == "" || strings.HasPrefix(u, "root") || strings.HasPrefix(u, "0") {
		t.Fatalf("the image runs as %q, want a user who is not root", u)
	}
	c := newSandbox(t, image.one(t, "WORKDIR"))
	c.image = image
	// The volumes belong to the image's user, as the Dockerfile's chown
	// makes them.
	for _, vol := range strings.Fields(image.one(t, "VOLUME")) {
		c.mkdir(vol, true)
	}
	for _, args := range image.all("COPY") {
		if f := strings.Fields(args); len(f) == 2 && !strings.HasPrefix(f[0], "--") {
			c.mount(f[1], repoPath(t, f[0]))
		}
	}
	return c
}

// newSandbox returns an empty file system whose processes run as a user
// who is not root, in workdir (a path of it, owned by root), with no
// image: what a container or a systemd service is made of.
func newSandbox(t *testing.T, workdir string) *container {
	t.Helper()
	// Every user may enter its root, as every user may enter /.
	c := &container{t: t, root: reachableTempDir(t), workdir: workdir, uid: os.Getuid()}
	if os.Geteuid() == 0 {
		c.cred = nobody(t)
		c.uid = int(c.cred.Uid)
	}
	c.mkdir(workdir, false)
	return c
}

// reachableTempDir returns a new directory that every user may enter,
// unlike t.TempDir's, removed when the test ends.
func reachableTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "keygate-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// nobody returns the credential of the nobody user.
func nobody(t *testing.T) *syscall.Credential {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("running as root, and there is no nobody user to run the image's processes as: %v", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("unexpected uid %q or gid %q of nobody", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
}

// path returns the file of this machine that stands for the container's
// absolute path p.
func (c *container) path(p string) string {
	return filepath.Join(c.root, filepath.FromSlash(p))
}

// mkdir creates the container's directory dir, owned by the image's user
// if userOwned.
func (c *container) mkdir(dir string, userOwned bool) {
	c.t.Helper()
	host := c.path(dir)
	if err := os.MkdirAll(host, 0o755); err != nil {
		c.t.Fatal(err)
	}
	if userOwned && c.cred != nil {
		if err := os.Chown(host, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			c.t.Fatal(err)
		}
	}
}

// mount puts a copy of the file src at the container's path dest,
// readable by everyone, as COPY and a read-only bind mount do.
func (c *container) mount(dest, src string) {
	c.t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		c.t.Fatalf("reading %s for the container: %v", src, err)
	}
	c.mkdir(filepath.Dir(dest), false)
	if err := os.WriteFile(c.path(dest), data, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// mapped returns s with a container path at its start replaced by the
// file that stands for it.
func (c *container) mapped(s string) string {
	if strings.HasPrefix(s, "/") {
		return c.path(s)
	}
	return s
}

// env returns the environment of the container's processes: PATH, HOME
// (the image user's home, /data), the image's ENV, then extra (KEY=value),
// which wins.
func (c *container) env(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.path("/data")}
	for k, v := range c.image.env(c.t) {
		env = append(env, k+"="+c.mapped(v))
	}
	return append(env, extra...)
}

// command returns argv as the container would run it, argv[0] being the
// keygate binary bin: in the image's WORKDIR, as its user, with env and
// with its paths.
func (c *container) command(bin string, argv []string, env []string) *exec.Cmd {
	c.t.Helper()
	if len(argv) == 0 || argv[0] != "keygate" {
		c.t.Fatalf("command %q: want keygate first", argv)
	}
	cmd := exec.Command(bin, argv[1:]...)
	c.setup(env)(cmd)
	return cmd
}

// setup returns what makes a command run as in the container: its paths
// mapped, in its working directory, as its user, with env.
func (c *container) setup(env []string) func(*exec.Cmd) {
	workdir := c.path(c.workdir)
	return func(cmd *exec.Cmd) {
		for i := 1; i < len(cmd.Args); i++ {
			cmd.Args[i] = c.mapped(cmd.Args[i])
		}
		cmd.Dir, cmd.Env = workdir, env
		if c.cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
		}
	}
}

// run runs the keygate command line as `docker exec` would, with env, and
// returns what it printed.
func (c *container) run(bin string, env []string, args ...string) result {
	c.t.Helper()
	return runCommand(c.t, bin, args, c.setup(env))
}

// processUID returns the real uid of the running process pid.
func processUID(pid int) (int, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if fields := strings.Fields(line); len(fields) > 1 && fields[0] == "Uid:" {
			return strconv.Atoi(fields[1])
		}
	}
	return 0, fmt.Errorf("no Uid line in /proc/%d/status", pid)
}

// startGateway runs argv (keygate first, run with bin) in the container as
// a gateway on fresh ports of 127.0.0.1, with env and the listen addresses
// of deploy/Caddyfile moved there, and waits until it serves. It returns
// the gateway and its environment, which `docker exec` or ExecReload would
// give a command line too.
func (c *container) startGateway(h *harness, bin string, argv, env []string) (*gateway, []string) {
	c.t.Helper()
	var gwEnv []string
	g := h.retryOnTakenPort(strings.Join(argv, " "), func() (*gateway, error) {
		port, adminPort := freePort(c.t), freePort(c.t)
		stderr := filepath.Join(c.t.TempDir(), "stderr.log")
		g := &gateway{
			URL:      fmt.Sprintf("http://127.0.0.1:%d", port),
			AdminURL: fmt.Sprintf("http://127.0.0.1:%d", adminPort),
			// deploy/Caddyfile logs JSON to standard error.
			LogPath:    stderr,
			stderrPath: stderr,
			h:          h,
			exited:     make(chan struct{}),
		}
		gwEnv = append(env[:len(env):len(env)],
			fmt.Sprintf("KEYGATE_SITE=http://:%d", port),
			"KEYGATE_BIND=127.0.0.1",
			fmt.Sprintf("KEYGATE_ADMIN=127.0.0.1:%d", adminPort))
		if err := g.launch(c.command(bin, argv, gwEnv)); err != nil {
			return nil, err
		}
		return g, nil
	})
	return g, gwEnv
}
