package integration_tests

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// This file reads compose.yaml, so that the tests run its services'
// commands, configs and environments.

// composeFile is the part of compose.yaml the tests use.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

// composeService is one service of compose.yaml, after YAML merge keys.
type composeService struct {
	Build       any               `yaml:"build"`
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	DependsOn   map[string]any    `yaml:"depends_on"`
}

// readCompose parses the root compose.yaml.
func readCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile(repoPath(t, "compose.yaml"))
	if err != nil {
		t.Fatalf("reading compose.yaml: %v", err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("parsing compose.yaml: %v", err)
	}
	return c
}

// service returns the service called name.
func (c composeFile) service(t *testing.T, name string) composeService {
	t.Helper()
	s, ok := c.Services[name]
	if !ok {
		t.Fatalf("compose.yaml has no service %q", name)
	}
	return s
}

// mountedAt returns the file of the repository that the service mounts at
// target, from a ./path:target[:ro] volume.
func (s composeService) mountedAt(t *testing.T, target string) string {
	t.Helper()
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == target && strings.HasPrefix(parts[0], "./") {
			return repoPath(t, parts[0])
		}
	}
	t.Fatalf("the service mounts no file of the repository at %s (volumes %q)", target, s.Volumes)
	return ""
}

// interpolate applies compose's ${VAR:-default} interpolation with every
// variable unset, as `docker compose up` does in a fresh shell.
func interpolate(s string) string {
	for {
		start := strings.Index(s, "${")
		if start < 0 {
			return s
		}
		end := strings.Index(s[start:], "}")
		if end < 0 {
			return s
		}
		_, def, _ := strings.Cut(s[start+2:start+end], ":-")
		s = s[:start] + def + s[start+end+1:]
	}
}
