package integration_tests

import (
	"os"
	"strings"
	"testing"
)

// This file reads deploy/keygate.service and deploy/keygate.env.example,
// so that the tests run the unit's commands in its environment.

// unitFile is a systemd unit: for each section, each key's values in
// order (a key may be given several times).
type unitFile map[string]map[string][]string

// readUnit parses the systemd unit at path: sections, Key=Value lines,
// comments and backslash continuations.
func readUnit(t *testing.T, path string) unitFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the unit: %v", err)
	}
	u := make(unitFile)
	section := ""
	var cur strings.Builder
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		line = cur.String()
		cur.Reset()
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.Trim(line, "[]")
			u[section] = make(map[string][]string)
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			t.Fatalf("%s:%d: want [Section] or Key=Value, got %q", path, n+1, line)
		}
		k = strings.TrimSpace(k)
		u[section][k] = append(u[section][k], strings.TrimSpace(v))
	}
	return u
}

// value returns the last value of key in section, as systemd takes it.
func (u unitFile) value(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// readEnvFile parses a file for systemd's EnvironmentFile=: KEY=value
// lines, # comments.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the environment file: %v", err)
	}
	env := make(map[string]string)
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.ContainsAny(k, " \t") {
			t.Fatalf("%s:%d: want KEY=value, got %q", path, n+1, line)
		}
		env[k] = strings.Trim(v, `"`)
	}
	return env
}
