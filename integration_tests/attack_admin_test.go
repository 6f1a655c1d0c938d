package integration_tests

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/poll"
)

// testAdmin registers integrations whose base URL is the gateway's own
// admin listener, under several spellings, and uses their keys to read
// /config/ (which may hold a database password): each must be refused at
// registration or when used, and the admin listener must never get a
// request through the gateway.
func (w *attackWorld) testAdmin(t *testing.T) {
	_, port, _ := net.SplitHostPort(w.g.AdminHost)
	before := w.g.adminRequests(t)
	for i, tc := range []struct{ name, baseURL string }{
		{"its address", "http://" + w.g.AdminHost},
		{"its config path", "http://" + w.g.AdminHost + "/config"},
		{"localhost", "http://localhost:" + port},
		{"0.0.0.0", "http://0.0.0.0:" + port},
		{"IPv4-mapped IPv6", "http://[::ffff:127.0.0.1]:" + port},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("admin%d", i)
			if res := w.h.cli("integrations", "add", id, "--base-url", tc.baseURL); res.code != 0 {
				if strings.TrimSpace(res.stderr) == "" {
					t.Error("integrations add refused the base URL without saying why")
				}
				return // refused at registration
			}
			k := w.h.createKey(id, "ssrf")
			reqs := []wireRequest{
				{target: "/config/"},
				{target: "/config/", host: w.g.AdminHost},
				{target: "/i/" + id + "/config/", host: w.g.AdminHost},
			}
			if w.anyHost {
				// Caddyfile.example's site answers only 127.0.0.1: there,
				// Host localhost selects no site and no handler runs.
				reqs = append(reqs, wireRequest{target: "/config/", host: "localhost:" + port})
			}
			for _, req := range reqs {
				req.auth = "Bearer " + k.Key
				for proto, send := range wireProtocols {
					r := send(t, w.addr(), req)
					if r.status < 400 || bytes.Contains(r.body, []byte(`"apps"`)) {
						t.Errorf("%s %s with Host %q: status %d (%d-byte body), want a refusal",
							proto, req.target, orDefault(req.host, "the gateway's"), r.status, len(r.body))
					}
				}
			}
		})
	}
	counted := w.g.adminRequests(t)
	if got := counted - before; got != 0 {
		t.Errorf("the admin listener received %d requests through the gateway, want none", got)
	}

	// The count can fail: a request of the test's own is counted.
	resp, err := http.Get(w.g.AdminURL + "/config/")
	if err != nil {
		t.Fatalf("GET /config/ on the admin listener: %v", err)
	}
	resp.Body.Close()
	poll.Until(t, 5*time.Second, "the admin listener's log of the test's own request", func() (bool, string) {
		got := w.g.adminRequests(t)
		return got == counted+1, fmt.Sprintf("%d more admin requests logged, want 1", got-counted)
	})
}

// adminRequests counts the requests Caddy's admin listener logged.
func (g *gateway) adminRequests(t *testing.T) int {
	t.Helper()
	n := 0
	for _, e := range g.logEntries(t) {
		if e.str("logger") == "admin.api" && e.str("msg") == "received request" {
			n++
		}
	}
	return n
}
