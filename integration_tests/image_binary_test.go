package integration_tests

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// imageVersion is the VERSION the tests build the image's binary with, as
// `docker build --build-arg VERSION=...` would.
const imageVersion = "v0.0.0-imagetest"

// imageBin is the binary the Dockerfile's build command produces, built
// once for every test that needs it.
var imageBin struct {
	once sync.Once
	path string
	err  error
}

// imageBinary builds, once, the binary of the container image with the
// Dockerfile's own build command (`make build-static`), into a directory
// every user may enter, and returns its path.
func imageBinary(t *testing.T) string {
	t.Helper()
	requireBinary(t)
	build := buildCommand(t)
	imageBin.once.Do(func() {
		// Next to the test binary, removed with it; the image's user must
		// reach it.
		parent := filepath.Dir(keygateBin)
		dir := filepath.Join(parent, "image")
		if err := os.Chmod(parent, 0o711); err != nil {
			imageBin.err = err
			return
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			imageBin.err = err
			return
		}
		imageBin.path = filepath.Join(dir, "keygate")
		// The Dockerfile's command, with the output and version it is
		// given there by BIN and VERSION.
		args := append([]string{"-C", repoPath(t, "."), "--no-print-directory"}, build...)
		args = append(args, "BIN="+imageBin.path, "VERSION="+imageVersion)
		out, err := exec.Command("make", args...).CombinedOutput()
		if err != nil {
			imageBin.err = fmt.Errorf("make %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	})
	if imageBin.err != nil {
		t.Fatalf("building the image's binary: %v", imageBin.err)
	}
	return imageBin.path
}

// buildCommand returns the make targets that the Dockerfile's build stage
// runs, from its `RUN ... make <targets> BIN=... VERSION=...`.
func buildCommand(t *testing.T) []string {
	t.Helper()
	for _, run := range readDockerfile(t)[0].all("RUN") {
		_, after, ok := strings.Cut(run, " make ")
		if !ok {
			continue
		}
		var targets []string
		for _, word := range strings.Fields(after) {
			if strings.Contains(word, "=") || word == "&&" {
				break
			}
			targets = append(targets, word)
		}
		return targets
	}
	t.Fatal("the Dockerfile's build stage runs no make")
	return nil
}

// dynamicLinking returns why the ELF file at path is dynamically linked,
// or "" if it is static.
func dynamicLinking(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			return "it names a program interpreter (PT_INTERP)", nil
		case elf.PT_DYNAMIC:
			return "it has a dynamic section (PT_DYNAMIC)", nil
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		return fmt.Sprintf("it needs %s", strings.Join(libs, ", ")), nil
	}
	return "", nil
}

// TestImageBinaryIsStatic: the Dockerfile builds keygate with cgo off, so
// that it runs on any base image: no interpreter, no shared library. And
// it is stamped: `keygate version` shows the VERSION it was built with;
// built in a git checkout, as here and by `make build`, `keygate
// build-info` shows the commit (the image, built without .git, cannot).
func TestImageBinaryIsStatic(t *testing.T) {
	t.Parallel()
	bin := imageBinary(t)
	if targets := buildCommand(t); !strings.Contains(strings.Join(targets, " "), "build-static") {
		t.Errorf("the Dockerfile runs make %v, want build-static", targets)
	}
	why, err := dynamicLinking(bin)
	if err != nil {
		t.Fatal(err)
	}
	if why != "" {
		t.Errorf("the image's binary is not static: %s", why)
	}
	// The check itself tells a dynamic binary apart.
	if why, err := dynamicLinking("/bin/sh"); err != nil || why == "" {
		t.Errorf("dynamicLinking(/bin/sh) = %q, %v; want a reason: the check cannot see dynamic linking", why, err)
	}

	res := runCommand(t, bin, []string{"version"}, nil)
	if res.code != 0 || !strings.HasPrefix(res.stdout, imageVersion+" v2.") {
		t.Errorf("keygate version: exit code %d, output %q; want %q then Caddy's version", res.code, res.stdout, imageVersion)
	}
	res = runCommand(t, bin, []string{"build-info"}, nil)
	if res.code != 0 || !strings.Contains(res.stdout, "CGO_ENABLED=0") || !strings.Contains(res.stdout, "-trimpath=true") {
		t.Errorf("keygate build-info: exit code %d, want CGO_ENABLED=0 and -trimpath=true in:\n%s", res.code, res.stdout)
	}
	rev, err := exec.Command("git", "-C", repoPath(t, "."), "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v (the tests run in a git checkout, as CI does)", err)
	}
	if want := "vcs.revision=" + strings.TrimSpace(string(rev)); !strings.Contains(res.stdout, want) {
		t.Errorf("keygate build-info does not show %s:\n%s", want, res.stdout)
	}
	if strings.Contains(res.stdout, "mod\tgithub.com/keygate/keygate\t(devel)") {
		t.Errorf("keygate build-info shows keygate as (devel), want its version from the commit:\n%s", res.stdout)
	}
}
