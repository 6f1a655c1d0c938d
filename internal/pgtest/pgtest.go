// Package pgtest gives tests a real PostgreSQL database.
//
// The server is the one of KEYGATE_TEST_DATABASE_URL when that is set (its
// URL is used as the admin connection that creates databases); otherwise a
// throwaway cluster is started once per test binary, on first use, from the
// machine's initdb and pg_ctl, listening on a free port of 127.0.0.1 only,
// and removed when the binary ends. Each call to URL creates a fresh, empty
// database on that server and drops it when the test ends. On a machine
// without PostgreSQL, the tests that need it are skipped, unless
// KEYGATE_TEST_REQUIRE_POSTGRES is set.
//
// A test package uses it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
package pgtest

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
)

// EnvDatabaseURL names the environment variable that points the tests at an
// existing PostgreSQL server instead of a throwaway cluster.
const EnvDatabaseURL = "KEYGATE_TEST_DATABASE_URL"

// EnvRequirePostgres names the environment variable that makes a machine
// without PostgreSQL fail the tests that need it, instead of skipping them:
// CI sets it, so that they can never silently stop running there.
const EnvRequirePostgres = "KEYGATE_TEST_REQUIRE_POSTGRES"

var (
	once     sync.Once
	shared   *Cluster
	startErr error
)

// Main runs the tests of m, then stops and removes the cluster it started,
// if any. Call it from TestMain and pass its result to os.Exit.
func Main(m *testing.M) int {
	defer shutdown()
	return m.Run()
}

// Server returns the shared server, starting the throwaway cluster if it
// is not running yet; the test fails if there is no way to have one.
func Server(t testing.TB) *Cluster {
	t.Helper()
	once.Do(func() {
		shared, startErr = newCluster()
	})
	if startErr != nil {
		if skippable(startErr, os.Getenv) {
			t.Skipf("pgtest: %v (set %s=1 to fail instead of skipping)", startErr, EnvRequirePostgres)
		}
		t.Fatalf("pgtest: %v", startErr)
	}
	return shared
}

// skippable reports whether the tests that need PostgreSQL may be skipped
// after err: this machine has no PostgreSQL server programs, and
// EnvRequirePostgres is not set. Any other failure to start a server is a
// failure.
func skippable(err error, getenv func(string) string) bool {
	return errors.Is(err, errNoBinaries) && getenv(EnvRequirePostgres) == ""
}

// URL returns the URL of a fresh, empty database on the shared server. The
// database is dropped, its connections closed, when t ends.
func URL(t testing.TB) string {
	t.Helper()
	return Server(t).createDatabase(t)
}

// newCluster returns the external server of EnvDatabaseURL, or starts a
// throwaway cluster.
func newCluster() (*Cluster, error) {
	if raw := os.Getenv(EnvDatabaseURL); raw != "" {
		return externalCluster(raw)
	}
	return startCluster()
}

// shutdown stops and removes the throwaway cluster, if one was started.
// It runs after every test has ended.
func shutdown() {
	if shared == nil || shared.external {
		return
	}
	if err := shared.remove(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: removing the test cluster: %v\n", err)
	}
}
