package integration_tests

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/poll"
)

// testLog puts key c in the request target, in every encoding an
// attacker (or a careless client) may use, on refused requests, which the
// shipped Caddyfiles log with their uri; then neither the gateway's log
// nor its standard error may hold the key or a part of its secret, read
// as it is or decoded any number of times. It runs last and so checks
// the log of every attack before it too.
func (w *attackWorld) testLog(t *testing.T) {
	key := w.c.Key
	_, secret, _ := strings.Cut(key, "_")
	half := len(secret) / 2
	upper, lower := encodeAll(key, "%%%02X"), encodeAll(key, "%%%02x")
	targets := []struct{ name, target, auth string }{
		{name: "in the query", target: "/leak?access_token=" + key},
		{name: "prefix's underscore encoded", target: "/leak?t=kg%5F" + secret},
		{name: "prefix encoded", target: "/leak?t=%6B%67_" + secret},
		{name: "secret without its prefix", target: "/leak?t=" + secret},
		{name: "every byte encoded", target: "/leak?t=" + upper},
		{name: "every byte encoded, lower case", target: "/leak?t=" + lower},
		{name: "every byte double-encoded", target: "/leak?t=" + strings.ReplaceAll(upper, "%", "%25")},
		{name: "split in two", target: "/leak?a=" + secret[:half] + "&b=" + secret[half:]},
		{name: "in the path", target: "/leak/" + key},
		{name: "in the path, encoded", target: "/leak/" + encodeAll(secret, "%%%02X")},
		{name: "as an unknown Bearer token's suffix", target: "/leak", auth: "Bearer kg_x" + secret},
		{name: "refused by the pinned route", target: "/i/c/leak?t=" + upper, auth: "Bearer " + w.d.Key},
	}
	before := w.refusalsLogged(t)
	for _, tc := range targets {
		for proto, send := range wireProtocols {
			t.Run(tc.name+"/"+proto, func(t *testing.T) {
				// The senders show no target: it holds the key.
				r := send(t, w.addr(), wireRequest{target: tc.target, auth: tc.auth})
				if !refused(r.status) {
					t.Errorf("status %d, want a refusal (which is logged with its uri)", r.status)
				}
			})
		}
	}
	// Every refusal is in the log: a key in it would show.
	want := before + len(targets)*len(wireProtocols)
	poll.Until(t, 10*time.Second, "the refusals in the auth log", func() (bool, string) {
		got := w.refusalsLogged(t)
		return got >= want, fmt.Sprintf("%d refusals logged, want %d", got, want)
	})
	if why := leaksDecoded(w.h, w.g.outputs()); why != "" {
		t.Errorf("the gateway's log or standard error holds key c or a part of its secret %s", why)
	}
}

// refusalsLogged counts the auth log's refusals.
func (w *attackWorld) refusalsLogged(t *testing.T) int {
	t.Helper()
	n := 0
	for _, e := range w.g.logEntries(t) {
		if e.str("logger") == authLogger && e.str("reason") != "" {
			n++
		}
	}
	return n
}

// encodeAll percent-encodes every byte of s with format, "%%%02X" or
// "%%%02x".
func encodeAll(s, format string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, format, s[i])
	}
	return b.String()
}
