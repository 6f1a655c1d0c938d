package integration_tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// This file reads the root Dockerfile, so that the tests run what it says
// (its build command, its config, environment, user, command and health
// check) rather than a copy of it.

// repoPath returns the absolute path of rel, relative to the repository
// root (the parent of this package's directory).
func repoPath(t *testing.T, rel string) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatalf("finding the repository root: %v", err)
	}
	return filepath.Join(root, filepath.FromSlash(rel))
}

// instruction is one Dockerfile instruction: its keyword, upper case, and
// the rest of it, continuation lines joined.
type instruction struct {
	keyword, args string
}

// dockerfile is one stage of the root Dockerfile.
type dockerfile []instruction

// readDockerfile parses the root Dockerfile and returns its stages: the
// last one is the image.
func readDockerfile(t *testing.T) []dockerfile {
	t.Helper()
	data, err := os.ReadFile(repoPath(t, "Dockerfile"))
	if err != nil {
		t.Fatalf("reading the Dockerfile: %v", err)
	}
	var stages []dockerfile
	var cur strings.Builder
	for line := range strings.SplitSeq(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		cur.WriteString(strings.TrimSuffix(trimmed, "\\"))
		cur.WriteString(" ")
		if strings.HasSuffix(trimmed, "\\") {
			continue
		}
		keyword, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		in := instruction{strings.ToUpper(keyword), strings.Join(strings.Fields(args), " ")}
		cur.Reset()
		switch {
		case in.keyword == "FROM":
			stages = append(stages, dockerfile{in})
		case len(stages) > 0:
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("the Dockerfile has %d stages, want a build stage and the image", len(stages))
	}
	return stages
}

// all returns the arguments of every instruction with this keyword.
func (d dockerfile) all(keyword string) []string {
	var out []string
	for _, in := range d {
		if in.keyword == keyword {
			out = append(out, in.args)
		}
	}
	return out
}

// one returns the arguments of the one instruction with this keyword.
func (d dockerfile) one(t *testing.T, keyword string) string {
	t.Helper()
	all := d.all(keyword)
	if len(all) != 1 {
		t.Fatalf("the image has %d %s instructions, want 1", len(all), keyword)
	}
	return all[0]
}

// env returns the image's environment: its ENV instructions, KEY=value
// form.
func (d dockerfile) env(t *testing.T) map[string]string {
	t.Helper()
	env := make(map[string]string)
	for _, args := range d.all("ENV") {
		for _, kv := range strings.Fields(args) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("ENV %s: want the KEY=value form", args)
			}
			env[k] = v
		}
	}
	return env
}

// cmd returns the image's CMD, which must be in exec (JSON) form.
func (d dockerfile) cmd(t *testing.T) []string {
	t.Helper()
	var cmd []string
	if err := json.Unmarshal([]byte(d.one(t, "CMD")), &cmd); err != nil || len(cmd) == 0 {
		t.Fatalf("CMD %s: want the exec form, a JSON array (%v)", d.one(t, "CMD"), err)
	}
	return cmd
}

// healthcheck returns the shell command of the image's HEALTHCHECK.
func (d dockerfile) healthcheck(t *testing.T) string {
	t.Helper()
	_, command, ok := strings.Cut(d.one(t, "HEALTHCHECK"), " CMD ")
	if !ok || strings.HasPrefix(command, "[") {
		t.Fatalf("HEALTHCHECK %s: want options, then CMD in shell form", d.one(t, "HEALTHCHECK"))
	}
	return command
}

// copiedFrom returns the file of the build context that the image has at
// dest, from a COPY instruction.
func (d dockerfile) copiedFrom(t *testing.T, dest string) string {
	t.Helper()
	for _, args := range d.all("COPY") {
		f := strings.Fields(args)
		if len(f) == 2 && f[1] == dest {
			return repoPath(t, f[0])
		}
	}
	t.Fatalf("the image has no COPY <file> %s", dest)
	return ""
}
