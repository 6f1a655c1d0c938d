package integration_tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDeployCaddyfileTimeouts: deploy/Caddyfile bounds how long a client
// may take to send its headers and its body, so that a stalled client
// does not hold a connection forever. The shipped values are 10s and 30s;
// the test runs the file as it is with both shortened through their
// environment variables, and sees each kind of slow request cut off.
func TestDeployCaddyfileTimeouts(t *testing.T) {
	t.Parallel()
	h := newSQLiteHarness(t)
	res := runKeygate(t, []string{"KEYGATE_DATABASE_URL=" + h.dbURL},
		"adapt", "--config", repoPath(t, "deploy/Caddyfile"), "--adapter", "caddyfile")
	if res.code != 0 {
		t.Fatalf("keygate adapt deploy/Caddyfile: exit %d\n%s", res.code, res.stderr)
	}
	var cfg struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					ReadHeader int64 `json:"read_header_timeout"`
					Read       int64 `json:"read_timeout"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &cfg); err != nil {
		t.Fatal(err)
	}
	for name, s := range cfg.Apps.HTTP.Servers {
		if time.Duration(s.ReadHeader) != 10*time.Second || time.Duration(s.Read) != 30*time.Second {
			t.Errorf("server %s: read_header %v, read_body %v; want 10s and 30s", name, time.Duration(s.ReadHeader), time.Duration(s.Read))
		}
	}

	g := h.retryOnTakenPort("deploy/Caddyfile", func() (*gateway, error) {
		port, adminPort := freePort(t), freePort(t)
		stderr := filepath.Join(t.TempDir(), "stderr.log")
		g := &gateway{
			URL: fmt.Sprintf("http://127.0.0.1:%d", port), AdminURL: fmt.Sprintf("http://127.0.0.1:%d", adminPort),
			LogPath: stderr, stderrPath: stderr, h: h, exited: make(chan struct{}),
		}
		cmd := exec.Command(keygateBin, "run", "--config", repoPath(t, "deploy/Caddyfile"), "--adapter", "caddyfile")
		cmd.Env = append(processEnv(t), "KEYGATE_DATABASE_URL="+h.dbURL,
			fmt.Sprintf("KEYGATE_SITE=http://127.0.0.1:%d", port), "KEYGATE_BIND=127.0.0.1",
			fmt.Sprintf("KEYGATE_ADMIN=127.0.0.1:%d", adminPort),
			"KEYGATE_READ_HEADER_TIMEOUT=1s", "KEYGATE_READ_BODY_TIMEOUT=2s")
		return g, g.launch(cmd)
	})
	addr := strings.TrimPrefix(g.URL, "http://")
	for name, partial := range map[string]string{
		"headers never end": "GET /x HTTP/1.1\r\nHost: " + addr + "\r\nX-Slow: 1\r\n",
		"body never ends": "POST /x HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\n" +
			"Content-Length: 1000\r\n\r\n{\"partial\":",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, partial); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			// Well past the shortened timeouts, well short of Caddy's own
			// default (a minute for headers, none for bodies).
			_ = conn.SetReadDeadline(start.Add(20 * time.Second))
			_, err = io.Copy(io.Discard, conn) // any answer, until the gateway closes
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the connection was still open %v after a partial request", time.Since(start).Round(time.Second))
			}
			t.Logf("closed %v after the partial request", time.Since(start).Round(10*time.Millisecond))
		})
	}
}
