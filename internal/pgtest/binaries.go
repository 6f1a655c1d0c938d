package pgtest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// debianPostgresRoot is where Debian and Ubuntu install one directory of
// server binaries per major version.
const debianPostgresRoot = "/usr/lib/postgresql"

// errNoBinaries explains how to get a PostgreSQL server for the tests.
var errNoBinaries = errors.New("PostgreSQL server programs initdb and pg_ctl were found neither on PATH nor in " +
	debianPostgresRoot + "/*/bin: install PostgreSQL (Debian/Ubuntu: apt-get install postgresql) " +
	"or set " + EnvDatabaseURL + " to the URL of a server the tests may create databases on " +
	"(e.g. postgres://postgres:secret@127.0.0.1:5432/postgres)")

// findBinaries returns the directory holding both initdb and pg_ctl: the
// one of initdb on PATH first, then the newest version under root.
func findBinaries(root string) (string, error) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	dirs = append(dirs, versionDirs(root)...)
	for _, dir := range dirs {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}
	return "", errNoBinaries
}

// versionDirs returns root/<version>/bin for every installed version,
// newest first.
func versionDirs(root string) []string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	type version struct {
		dir   string
		major []int
	}
	var versions []version
	for _, e := range entries {
		v, ok := parseVersion(e.Name())
		if ok {
			versions = append(versions, version{filepath.Join(root, e.Name(), "bin"), v})
		}
	}
	sort.Slice(versions, func(i, j int) bool { return newer(versions[i].major, versions[j].major) })
	dirs := make([]string, len(versions))
	for i, v := range versions {
		dirs[i] = v.dir
	}
	return dirs
}

// parseVersion reads "15" or "9.6" as numbers.
func parseVersion(name string) ([]int, bool) {
	var v []int
	for _, part := range strings.Split(name, ".") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}

// newer reports whether version a sorts after version b.
func newer(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return len(a) > len(b)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
