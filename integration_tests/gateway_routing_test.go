package integration_tests

import (
	"bufio"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/poll"
)

// rawSeen is what a recording upstream received, as it came off the wire.
type rawSeen struct {
	method, requestURI, host string
	header, trailer          http.Header
	tls                      bool
}

// recordingUpstream is an integration that records every request it gets.
type recordingUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []rawSeen
}

func newRecordingUpstream(t *testing.T, useTLS bool) *recordingUpstream {
	t.Helper()
	u := &recordingUpstream{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // fills r.Trailer in
		u.mu.Lock()
		u.seen = append(u.seen, rawSeen{r.Method, r.RequestURI, r.Host, r.Header.Clone(), r.Trailer.Clone(), r.TLS != nil})
		u.mu.Unlock()
		fmt.Fprintln(w, "upstream")
	})
	if useTLS {
		u.Server = httptest.NewTLSServer(h)
	} else {
		u.Server = httptest.NewServer(h)
	}
	t.Cleanup(u.Close)
	return u
}

func (u *recordingUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

func (u *recordingUpstream) last(t *testing.T) rawSeen {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		t.Fatal("the upstream got no request")
	}
	return u.seen[len(u.seen)-1]
}

// sendRaw writes head (request line and headers, CRLF-separated, without
// the blank line) and body to addr exactly as given, and returns the
// response's status and body.
func sendRaw(t *testing.T, addr, head, body string) (int, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(conn, head+"\r\nConnection: close\r\n\r\n"+body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response to %q: %v", strings.SplitN(head, "\r\n", 2)[0], err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRoutingOnCaddyfileExample sends what a key holder could try to
// reach another integration, another vhost or the admin endpoint through
// Caddyfile.example as shipped (ports moved, and the generic route given
// the test CA of an https integration): none of it gets out of the key's
// integration's base URL.
func TestRoutingOnCaddyfileExample(t *testing.T) {
	t.Parallel()
	h, _ := newDefaultStoreHarness(t)
	plain := newRecordingUpstream(t, false)
	secure := newRecordingUpstream(t, true)
	example, err := os.ReadFile(repoPath(t, "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	const genericRoute = "\t\tkeygate\n\t\treverse_proxy {\n\t\t\tdynamic keygate\n\t\t}\n\t}\n}\n"
	if !strings.Contains(string(example), genericRoute) {
		t.Fatalf("Caddyfile.example has no generic route %q", genericRoute)
	}
	var adminPort int
	g := h.retryOnTakenPort("Caddyfile.example", func() (*gateway, error) {
		dir := t.TempDir()
		ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: secure.Certificate().Raw})
		caPath := filepath.Join(dir, "upstream-ca.pem")
		if err := os.WriteFile(caPath, ca, 0o600); err != nil {
			return nil, err
		}
		var port, demoPort int
		port, demoPort, adminPort = freePort(t), freePort(t), freePort(t)
		conf := strings.NewReplacer(
			"127.0.0.1:8080", fmt.Sprintf("127.0.0.1:%d", port),
			"127.0.0.1:9001", fmt.Sprintf("127.0.0.1:%d", demoPort),
			"127.0.0.1:2019", fmt.Sprintf("127.0.0.1:%d", adminPort),
			genericRoute, "\t\tkeygate\n\t\treverse_proxy {\n\t\t\tdynamic keygate\n\t\t\ttransport keygate {\n\t\t\t\ttls_trust_pool file "+caPath+"\n\t\t\t}\n\t\t}\n\t}\n}\n",
		).Replace(string(example))
		confPath := filepath.Join(dir, "Caddyfile")
		if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
			return nil, err
		}
		stderr := filepath.Join(dir, "stderr.log")
		g := &gateway{
			URL: fmt.Sprintf("http://127.0.0.1:%d", port), AdminURL: fmt.Sprintf("http://127.0.0.1:%d", adminPort),
			LogPath: stderr, stderrPath: stderr, h: h, exited: make(chan struct{}),
		}
		cmd := exec.Command(keygateBin, "run", "--config", confPath)
		cmd.Env = append(processEnv(t), h.env...)
		return g, g.launch(cmd)
	})
	addr := strings.TrimPrefix(g.URL, "http://")
	plainHost := strings.TrimPrefix(plain.URL, "http://")

	h.mustCLI("integrations", "add", "c", "--base-url", plain.URL+"/v1/c")
	h.mustCLI("integrations", "add", "d", "--base-url", plain.URL+"/v1/d")
	h.mustCLI("integrations", "add", "s", "--base-url", secure.URL+"/s")
	h.mustCLI("integrations", "add", "adm", "--base-url", g.AdminURL)
	h.mustCLI("integrations", "add", "admname", "--base-url", fmt.Sprintf("http://localhost:%d/config", adminPort))
	auth := "Authorization: Bearer " + h.createKey("c", "alice").Key

	t.Run("ambiguous paths refused with 400", func(t *testing.T) {
		for _, target := range []string{
			"/../d/x", "/x/../../d/x", "/%2e%2e/d/x", "/%2E%2e/d/x", "/..%2fd/x", "/%252e%252e/d/x",
			"/a%2fb", "/a%5cb", "/a%255cb", "/a\\b", "/a%00b", "/..;/d/x",
			"/i/c/%252e%252e/d/x", "/i/c/%2e%2e/d/x", "/i/c/..%2fd/x", "/demo/%252e%252e/x",
			"http://127.0.0.1/../d/x", "*",
		} {
			before := plain.count()
			status, body := sendRaw(t, addr, "GET "+target+" HTTP/1.1\r\nHost: 127.0.0.1\r\n"+auth, "")
			var b struct{ Error string }
			if status != http.StatusBadRequest || json.Unmarshal([]byte(body), &b) != nil || b.Error == "" {
				t.Errorf("GET %s: status %d, body %q; want 400 with a JSON error", target, status, body)
			}
			if plain.count() != before {
				t.Errorf("GET %s reached the upstream as %q", target, plain.last(t).requestURI)
			}
		}
		poll.Until(t, 5*time.Second, "bad_path in the auth log", func() (bool, string) {
			for _, e := range g.logEntries(t) {
				if e.str("reason") == "bad_path" && e.str("uri") == "/%252e%252e/d/x" {
					return true, ""
				}
			}
			return false, "no bad_path entry for /%252e%252e/d/x"
		})
	})

	t.Run("the integration's path and host, whatever the client sends", func(t *testing.T) {
		for _, tc := range []struct{ head, want string }{
			{"GET /x?q=%2e%2e HTTP/1.1\r\nHost: 127.0.0.1", "/v1/c/x?q=%2e%2e"},
			{"GET /x HTTP/1.1\r\nHost: 127.0.0.1:" + fmt.Sprint(adminPort), "/v1/c/x"},
			{"GET http://other-vhost.internal/x HTTP/1.1\r\nHost: 127.0.0.1", "/v1/c/x"},
			{"GET /i/c/a%20b HTTP/1.1\r\nHost: 127.0.0.1", "/v1/c/a%20b"},
			{"GET /i/c HTTP/1.1\r\nHost: 127.0.0.1", "/v1/c/"},
		} {
			status, body := sendRaw(t, addr, tc.head+"\r\n"+auth, "")
			if status != http.StatusOK {
				t.Errorf("%q: status %d: %s", tc.head, status, body)
				continue
			}
			if seen := plain.last(t); seen.requestURI != tc.want || seen.host != plainHost {
				t.Errorf("%q: upstream got %q with Host %q; want %q with Host %q", tc.head, seen.requestURI, seen.host, tc.want, plainHost)
			}
		}
	})

	t.Run("https integration over TLS", func(t *testing.T) {
		key := h.createKey("s", "bob").Key
		status, body := sendRaw(t, addr, "POST /things HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nAuthorization: Bearer "+key, "{}")
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, body)
		}
		seen := secure.last(t)
		if !seen.tls || seen.method != "POST" || seen.requestURI != "/s/things" || seen.host != strings.TrimPrefix(secure.URL, "https://") {
			t.Errorf("TLS upstream got %+v", seen)
		}
	})

	t.Run("trailers stripped", func(t *testing.T) {
		head := "POST /t HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth + "\r\nTransfer-Encoding: chunked\r\nTrailer: X-Keygate-Key-Id, Authorization, X-Other"
		status, body := sendRaw(t, addr, head, "2\r\nhi\r\n0\r\nX-Keygate-Key-Id: kid_forged\r\nX-Keygate-Integration: d\r\nAuthorization: Bearer forged\r\nX-Other: kept\r\n\r\n")
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, body)
		}
		seen := plain.last(t)
		for name, vals := range seen.trailer {
			if strings.HasPrefix(strings.ToLower(name), "x-keygate-") || strings.EqualFold(name, "Authorization") {
				t.Errorf("upstream got trailer %s: %q", name, vals)
			}
		}
		if seen.trailer.Get("X-Other") != "kept" {
			t.Errorf("upstream trailers %v, want X-Other: kept", seen.trailer)
		}
	})

	t.Run("base URL of the admin endpoint refused", func(t *testing.T) {
		for _, integration := range []string{"adm", "admname"} {
			key := h.createKey(integration, "mallory-"+integration).Key
			status, body := sendRaw(t, addr, "GET /config/ HTTP/1.1\r\nHost: 127.0.0.1:"+fmt.Sprint(adminPort)+"\r\nAuthorization: Bearer "+key, "")
			if status != http.StatusBadGateway || strings.Contains(body, "apps") {
				t.Errorf("%s: status %d, body %q; want 502 and not the config", integration, status, body)
			}
		}
		poll.Until(t, 5*time.Second, "the admin target in the error log", func() (bool, string) {
			for _, e := range g.logEntries(t) {
				if e.str("level") == "error" && strings.Contains(e.str("error"), "admin endpoint") {
					return true, ""
				}
			}
			return false, "no error entry naming the admin endpoint"
		})
	})
}
