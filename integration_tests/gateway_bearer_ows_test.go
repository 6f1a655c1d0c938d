package integration_tests

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBearerWhitespaceSameOverEveryProtocol: HTTP/1.1 strips the
// whitespace around a header value and HTTP/2 does not, so `Bearer <key> `
// was 200 over one and 401 over the other. Both must accept it.
func TestBearerWhitespaceSameOverEveryProtocol(t *testing.T) {
	t.Parallel()
	h := newSQLiteHarness(t)
	h.addIntegration("echo", "http://127.0.0.1:9")
	k := h.createKey("echo", "ows")
	g := h.retryOnTakenPort("an h2c gateway", func() (*gateway, error) {
		port, adminPort := freePort(t), freePort(t)
		dir := t.TempDir()
		g := &gateway{
			URL: fmt.Sprintf("http://127.0.0.1:%d", port), AdminURL: fmt.Sprintf("http://127.0.0.1:%d", adminPort),
			LogPath: filepath.Join(dir, "keygate.log"), stderrPath: filepath.Join(dir, "stderr.log"), h: h, exited: make(chan struct{}),
		}
		conf := fmt.Sprintf(`{
	admin 127.0.0.1:%d
	persist_config off
	auto_https off
	servers {
		protocols h1 h2c
	}
	log {
		output file %q
		format json
	}
	keygate {
		database %q
	}
}

http://127.0.0.1:%d {
	keygate
	respond "ok" 200
}
`, adminPort, g.LogPath, h.dbURL, port)
		path := filepath.Join(dir, "Caddyfile")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		cmd := exec.Command(keygateBin, "run", "--config", path, "--adapter", "caddyfile")
		cmd.Env = append(processEnv(t), h.env...)
		return g, g.launch(cmd)
	})

	h1 := &http.Client{Transport: &http.Transport{}}
	h2 := new(http.Protocols)
	h2.SetUnencryptedHTTP2(true)
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2}}
	for name, value := range map[string]string{
		"no whitespace": "Bearer " + k.Key, "trailing space": "Bearer " + k.Key + " ",
		"trailing tab": "Bearer " + k.Key + "\t", "leading space": " Bearer " + k.Key,
	} {
		for proto, client := range map[string]*http.Client{"HTTP/1.1": h1, "HTTP/2.0": h2c} {
			req, err := http.NewRequest(http.MethodGet, g.URL+"/x", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", value)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", proto, err)
			}
			resp.Body.Close()
			if resp.Proto != proto || resp.StatusCode != http.StatusOK {
				t.Errorf("%s, %s: %s %d, want %s 200", proto, name, resp.Proto, resp.StatusCode, proto)
			}
		}
	}
}
