package keygate

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestNoCaddyBelowTheGlue: the packages under the Caddy glue build without
// Caddy, and the stores without the verifier's cache, so that each can be
// used (and read) on its own. It asks the go command for their
// dependencies.
func TestNoCaddyBelowTheGlue(t *testing.T) {
	cases := []struct {
		packages  []string
		forbidden []string
	}{
		{
			packages:  []string{"./keystore/...", "./verify", "./gateway", "./manage", "./portal", "./token"},
			forbidden: []string{"github.com/caddyserver/", "github.com/keygate/keygate/caddymodule"},
		},
		{
			packages:  []string{"./keystore/..."},
			forbidden: []string{"github.com/dgraph-io/ristretto", "github.com/keygate/keygate/verify", "github.com/keygate/keygate/gateway"},
		},
	}
	for _, c := range cases {
		args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, c.packages...)
		out, err := exec.Command(goCommand(), args...).Output()
		if err != nil {
			t.Fatalf("go %s: %v", strings.Join(args, " "), err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list found %d dependencies of %v: %q", len(deps), c.packages, out)
		}
		for _, dep := range deps {
			for _, f := range c.forbidden {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%v depend on %s", c.packages, dep)
				}
			}
		}
	}
}

// goCommand is the go command that runs this test: on the PATH, else the
// one of the toolchain that built it.
func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}
