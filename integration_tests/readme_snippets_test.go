package integration_tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeSection returns README's section under heading, up to the next
// heading of the same level.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	data, err := os.ReadFile(repoPath(t, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no heading %q", heading)
	}
	if end := strings.Index(rest, "\n## "); end >= 0 {
		rest = rest[:end]
	}
	return rest
}

// fencedBlocks returns the code blocks of a README section whose fence
// names lang ("" for a bare fence).
func fencedBlocks(section, lang string) []string {
	re := regexp.MustCompile("(?s)\n```" + regexp.QuoteMeta(lang) + "\n(.*?)\n```")
	var blocks []string
	for _, m := range re.FindAllStringSubmatch(section, -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// startSnippet runs a Caddyfile snippet of README with its site address
// replaced by the test gateway's, and then each old string of replace
// (pairs: old, new) by its new one, behind global options for a test
// gateway, on h's store.
func startSnippet(t *testing.T, h *harness, snippet, siteAddress string, replace ...string) *gateway {
	t.Helper()
	return h.retryOnTakenPort("README's Caddyfile snippet", func() (*gateway, error) {
		port, adminPort := freePort(t), freePort(t)
		dir := t.TempDir()
		g := &gateway{
			URL:        fmt.Sprintf("http://127.0.0.1:%d", port),
			AdminURL:   fmt.Sprintf("http://127.0.0.1:%d", adminPort),
			LogPath:    filepath.Join(dir, "keygate.log"),
			stderrPath: filepath.Join(dir, "stderr.log"),
			h:          h, exited: make(chan struct{}),
		}
		site := strings.NewReplacer(replace...).Replace(strings.Replace(snippet, siteAddress, g.URL, 1))
		conf := fmt.Sprintf("{\n\tadmin 127.0.0.1:%d\n\tpersist_config off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n\tlog {\n\t\toutput file %q\n\t\tformat json\n\t}\n}\n\n%s\n", adminPort, g.LogPath, site)
		confPath := filepath.Join(dir, "Caddyfile")
		if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		cmd := exec.Command(keygateBin, "run", "--config", confPath, "--adapter", "caddyfile")
		cmd.Env = append(processEnv(t), append([]string{"KEYGATE_DATABASE_URL=" + h.dbURL}, h.env...)...)
		return g, g.launch(cmd)
	})
}
