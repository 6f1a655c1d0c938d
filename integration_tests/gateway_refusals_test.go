package integration_tests

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/keygate/keygate/keystore"
)

// The WWW-Authenticate challenges of DESIGN.md's responses table.
const (
	challengeNoKey   = `Bearer realm="keygate"`
	challengeInvalid = `Bearer realm="keygate", error="invalid_token"`
	challengeScope   = `Bearer realm="keygate", error="insufficient_scope"`
)

func TestGatewayRefusals(t *testing.T) {
	t.Parallel()
	w, gw := startedWorld(t)
	h := w.h

	valid := h.createKey("echo", "valid elsewhere")
	revoked := h.createKey("echo", "revoked client")
	h.mustCLI("keys", "revoke", revoked.ID)
	expired := h.createKey("echo", "expired client", "--expires-in", "1h")
	h.execSQL(`UPDATE keygate_keys SET expires_at = now() - interval '1 minute' WHERE id = $1`, expired.ID)
	unknown, _, err := keystore.GenerateKey(nil, keystore.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	h.remember(unknown)
	malformed := corruptChecksum(valid.Key)

	cases := []struct {
		name, path, authorization string
		status                    int
		challenge                 string
		reason, level             string
		key                       *createdKey // whose key_id and key_name the log names
	}{
		{"no credentials", "/refused/none", "", 401, challengeNoKey, "missing", "info", nil},
		{"basic credentials", "/refused/basic", "Basic dXNlcjpwYXNz", 401, challengeNoKey, "missing", "info", nil},
		{"malformed key", "/refused/malformed", "Bearer " + malformed, 401, challengeInvalid, "malformed", "info", nil},
		{"unknown key", "/refused/unknown", "Bearer " + unknown, 401, challengeInvalid, "unknown", "info", nil},
		{"revoked key", "/refused/revoked", "Bearer " + revoked.Key, 401, challengeInvalid, "revoked", "warn", &revoked},
		{"expired key", "/refused/expired", "Bearer " + expired.Key, 401, challengeInvalid, "expired", "warn", &expired},
		{"other integration's key", "/pinned/refused", "Bearer " + valid.Key, 403, challengeScope, "wrong_integration", "warn", &valid},
		// The log names the URI the client sent, not the one handle_path
		// left after stripping its prefix.
		{"behind handle_path", "/stripped/refused?q=1", "", 401, challengeNoKey, "missing", "info", nil},
	}
	var invalidBodies [][]byte
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := gw.request(t, http.MethodGet, tc.path, "", func(req *http.Request) {
				if tc.authorization != "" {
					req.Header.Set("Authorization", tc.authorization)
				}
			})
			assertRefused(t, r, tc.status, tc.challenge)
			if tc.challenge == challengeInvalid {
				invalidBodies = append(invalidBodies, r.body)
			}

			e := gw.authEntry(t, tc.path)
			if e.str("reason") != tc.reason || e.str("level") != tc.level {
				t.Errorf("auth log: reason %q at %q, want %q at %q", e.str("reason"), e.str("level"), tc.reason, tc.level)
			}
			wantID, wantName := "", ""
			if tc.key != nil {
				wantID, wantName = tc.key.ID, tc.key.Name
			}
			if e.str("key_id") != wantID || e.str("key_name") != wantName {
				t.Errorf("auth log: key_id %q, key_name %q; want %q, %q", e.str("key_id"), e.str("key_name"), wantID, wantName)
			}
			if e.str("method") != http.MethodGet || e.str("remote_ip") != "127.0.0.1" || e.str("host") == "" {
				t.Errorf("auth log: method %q, remote_ip %q, host %q; want GET from 127.0.0.1 and a host",
					e.str("method"), e.str("remote_ip"), e.str("host"))
			}
		})
	}
	for i := 1; i < len(invalidBodies); i++ {
		if !bytes.Equal(invalidBodies[i], invalidBodies[0]) {
			t.Errorf("invalid_token bodies differ: the client can tell why its key was refused")
		}
	}
	if n := w.echo.hits.Load() + w.pinned.hits.Load(); n != 0 {
		t.Errorf("refused requests reached the upstreams %d times", n)
	}
	assertNoSecretInLog(t, gw)
}

// assertRefused checks a refusal's status, challenge and JSON body.
func assertRefused(t *testing.T, r response, status int, challenge string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d", r.status, status)
	}
	if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != challenge {
		t.Errorf("WWW-Authenticate %q, want [%q]", got, challenge)
	}
	r.errorBody(t)
}

// assertNoSecretInLog parses every line of the gateway's log and checks
// that none holds a key or part of one.
func assertNoSecretInLog(t *testing.T, gw *gateway) {
	t.Helper()
	entries := gw.logEntries(t)
	if len(entries) == 0 {
		t.Fatal("the gateway log is empty")
	}
	for i, e := range entries {
		if gw.h.leaks(fmt.Sprint(map[string]any(e))) {
			t.Errorf("log entry %d (logger %q, msg %q) holds a key or part of one", i+1, e.str("logger"), e.str("msg"))
		}
	}
}

// corruptChecksum returns key with its last character changed: well
// shaped, but its checksum does not match.
func corruptChecksum(key string) string {
	last := byte('0')
	if key[len(key)-1] == '0' {
		last = '1'
	}
	return key[:len(key)-1] + string(last)
}
