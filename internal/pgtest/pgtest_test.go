package pgtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// helperEnv makes the test binary a helper process that starts a cluster,
// prints where it is, and waits to be killed.
const helperEnv = "PGTEST_HELPER_PROCESS"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper())
	}
	os.Exit(Main(m))
}

func runHelper() int {
	c, err := startCluster()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%s %s\n", c.dir, c.adminURL)
	select {} // until killed
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryString(t *testing.T, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestURLGivesFreshEmptyDatabases(t *testing.T) {
	a, b := URL(t), URL(t)
	if a == b {
		t.Fatalf("two calls returned the same URL %s", a)
	}
	ca, cb := connect(t, a), connect(t, b)
	if got := queryString(t, ca, "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public'"); got != "0" {
		t.Fatalf("new database has %s tables, want 0", got)
	}
	if _, err := ca.Exec(context.Background(), "CREATE TABLE t (x int)"); err != nil {
		t.Fatal(err)
	}
	if got := queryString(t, cb, "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public'"); got != "0" {
		t.Fatalf("a table created in one database shows in another: %s tables", got)
	}
}

func TestURLDatabaseDroppedAfterTest(t *testing.T) {
	var name string
	t.Run("uses a database", func(t *testing.T) {
		conn := connect(t, URL(t))
		name = queryString(t, conn, "SELECT current_database()")
	})
	admin := connect(t, Server(t).AdminURL())
	if got := queryString(t, admin, "SELECT count(*)::text FROM pg_database WHERE datname = $1", name); got != "0" {
		t.Fatalf("database %s still exists after its test ended", name)
	}
}

func TestThrowawayClusterSettings(t *testing.T) {
	c := Server(t)
	if c.External() {
		t.Skip("settings of an external server are not ours")
	}
	conn := connect(t, c.AdminURL())
	for setting, want := range map[string]string{
		"listen_addresses":        "127.0.0.1",
		"fsync":                   "off",
		"unix_socket_directories": c.dir,
	} {
		if got := queryString(t, conn, "SELECT current_setting($1)", setting); got != want {
			t.Errorf("%s = %q, want %q", setting, got, want)
		}
	}
	if runtime.GOOS == "linux" && os.Geteuid() == 0 {
		if got := queryString(t, conn, "SELECT current_user"); got != "postgres" {
			t.Errorf("superuser is %q, want postgres", got)
		}
	}
}

func TestStopStart(t *testing.T) {
	c := Server(t)
	if c.External() {
		t.Skip("an external server cannot be stopped")
	}
	url := URL(t)
	connect(t, url)

	c.Stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, url); err == nil {
		conn.Close(ctx)
		t.Fatal("connected to a stopped cluster")
	}
	c.Start(t)
	conn := connect(t, url)
	if got := queryString(t, conn, "SELECT current_database()"); !strings.HasPrefix(got, "keygate_test_") {
		t.Fatalf("after restart, connected to %q", got)
	}
}

func TestStopWithoutStartIsUndoneAfterTest(t *testing.T) {
	c := Server(t)
	if c.External() {
		t.Skip("an external server cannot be stopped")
	}
	t.Run("stops", func(t *testing.T) { c.Stop(t) })
	connect(t, c.AdminURL())
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as the real one does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestStopStartRefuseExternalServer(t *testing.T) {
	c := &Cluster{adminURL: "postgres://u@127.0.0.1:1/db", external: true}
	for name, f := range map[string]func(testing.TB){"Stop": c.Stop, "Start": c.Start} {
		rec := &fatalRecorder{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			f(rec)
		}()
		<-done
		if !strings.Contains(rec.msg, EnvDatabaseURL) || !strings.Contains(rec.msg, "External()") {
			t.Errorf("%s on an external server: message %q should name %s and External()", name, rec.msg, EnvDatabaseURL)
		}
	}
}

func TestFindBinariesPrefersNewestComplete(t *testing.T) {
	t.Setenv("PATH", "")
	root := t.TempDir()
	install := func(version string, programs ...string) {
		dir := filepath.Join(root, version, "bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range programs {
			if err := os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	install("9.6", "initdb", "pg_ctl")
	install("15", "initdb", "pg_ctl")
	install("10", "initdb", "pg_ctl")
	install("17", "initdb") // incomplete
	got, err := findBinaries(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "15", "bin"); got != want {
		t.Fatalf("found %s, want %s", got, want)
	}
}

func TestFindBinariesExplainsWhatToInstall(t *testing.T) {
	t.Setenv("PATH", "")
	_, err := findBinaries(t.TempDir())
	if !errors.Is(err, errNoBinaries) {
		t.Fatalf("got %v, want errNoBinaries", err)
	}
	for _, want := range []string{"apt-get install postgresql", EnvDatabaseURL} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not mention %q", err, want)
		}
	}
}

// TestKilledBinaryLeavesNoServer kills a process that started a cluster
// and checks that the cluster's server and directory go away.
func TestKilledBinaryLeavesNoServer(t *testing.T) {
	if Server(t).External() {
		t.Skip("with an external server no cluster is started")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper process printed no cluster: %v", err)
	}
	dir, adminURL, _ := strings.Cut(strings.TrimSpace(line), " ")
	connect(t, adminURL).Close(context.Background())

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	deadline := time.Now().Add(30 * time.Second)
	for {
		_, statErr := os.Stat(dir)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, connErr := pgx.Connect(ctx, adminURL)
		cancel()
		if connErr == nil {
			conn.Close(context.Background())
		}
		if errors.Is(statErr, os.ErrNotExist) && connErr != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("30s after the process was killed: directory %s stat error %v, server connect error %v", dir, statErr, connErr)
		}
		time.Sleep(50 * time.Millisecond) // polling the condition above
	}
}

func TestSkippableOnlyWithoutPostgres(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if !skippable(fmt.Errorf("starting: %w", errNoBinaries), getenv) {
		t.Error("a machine without PostgreSQL does not skip")
	}
	if skippable(errors.New("initdb failed"), getenv) {
		t.Error("a failing PostgreSQL skips")
	}
	env[EnvRequirePostgres] = "1"
	if skippable(errNoBinaries, getenv) {
		t.Errorf("with %s set, a machine without PostgreSQL skips", EnvRequirePostgres)
	}
}
