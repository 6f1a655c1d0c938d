// Package integration_tests drives the real keygate binary from outside:
// it builds cmd/keygate once, runs its command line against a real
// PostgreSQL database, starts gateway processes on 127.0.0.1 in front of
// real upstream HTTP servers, and speaks HTTP to them.
//
// The database is pgtest's: KEYGATE_TEST_DATABASE_URL when set, else a
// throwaway cluster. `go test -short` skips these tests.
package integration_tests

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/keygate/keygate/internal/pgtest"
)

// keygateBin is the path of the keygate binary under test; empty in
// -short mode.
var keygateBin string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

// runTests builds the binary into a temporary directory, runs the tests
// and removes the directory.
func runTests(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "keygate-integration-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration_tests: creating a temporary directory: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "keygate")
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X github.com/caddyserver/caddy/v2.CustomBinaryName=keygate",
		"github.com/keygate/keygate/cmd/keygate")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "integration_tests: building cmd/keygate: %v\n", err)
		return 1
	}
	keygateBin = bin
	return pgtest.Main(m)
}

// requireBinary skips the test in -short mode, where nothing was built.
func requireBinary(t *testing.T) {
	t.Helper()
	if keygateBin == "" {
		t.Skip("integration test: skipped in -short mode")
	}
}
