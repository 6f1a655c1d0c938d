package integration_tests

import (
	"net"
	"net/http"
	"strings"
	"testing"
)

// testProtocols pins down what the shipped plain-HTTP sites speak, so
// that the suite's h1 and h2c runs cover all of it: HTTP/1.1, HTTP/2 with
// prior knowledge (h2c; every attack runs over it too), no HTTP/2 upgrade
// from HTTP/1.1, and no HTTP/3, which needs TLS.
func (w *attackWorld) testProtocols(t *testing.T) {
	w.runAttacks(t, []attack{{
		name: "h2c upgrade is not honoured", h1Only: true, reach: "/v1/c/u",
		req: wireRequest{target: "/u", header: []string{
			"Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA",
		}},
	}})

	r := sendH1(t, w.addr(), wireRequest{target: "/alt-svc", auth: "Bearer " + w.c.Key})
	if alt := r.header.Get("Alt-Svc"); strings.Contains(alt, "h3") {
		t.Errorf("the site advertises HTTP/3 (Alt-Svc %q): the suite must attack it over HTTP/3 too", alt)
	}
	// Nothing listens on the site's UDP port: no HTTP/3 (QUIC) listener.
	l, err := net.ListenPacket("udp", w.addr())
	if err != nil {
		t.Errorf("the site's UDP port is taken (%v): an HTTP/3 listener the suite does not attack", err)
	} else {
		l.Close()
	}
}

// testBearerWhitespace sends a key with trailing whitespace, which
// HTTP/1.1 parsing trims and HTTP/2 keeps: the answer must not depend on
// the protocol, and it is the key's (RFC 9110 5.5: the whitespace around
// a field value is not part of it).
func (w *attackWorld) testBearerWhitespace(t *testing.T) {
	for _, tc := range []struct{ name, suffix string }{
		{"trailing space", " "},
		{"trailing spaces", "   "},
		{"trailing tab", "\t"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := wireRequest{target: "/ws", auth: "Bearer " + w.c.Key + tc.suffix}
			h1, h2 := sendH1(t, w.addr(), req).status, sendH2C(t, w.addr(), req).status
			if h1 != http.StatusOK || h2 != http.StatusOK {
				t.Errorf("status %d over HTTP/1.1, %d over h2c; want 200 on both", h1, h2)
			}
		})
	}
}
