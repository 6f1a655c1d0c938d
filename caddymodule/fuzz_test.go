package caddymodule

import (
	"net/http"
	"strings"
	"testing"

	"github.com/keygate/keygate/manage"
)

// FuzzBearerToken: bearerToken never panics; a token it returns is a
// non-empty part of the header with no space, tab or nothing around it
// that the header's `Bearer` scheme did not account for; and whitespace
// around the value never changes the answer (HTTP/1.1 strips it, h2 and
// h3 do not).
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer kg_abc", "bearer  kg_abc ", "\tBearer kg_abc\t", "Bearer", "Bearer ", "", " ", "Basic x", "Bearer a b", "BEARER\tx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		token, status := bearerToken(http.Header{"Authorization": {v}})
		if status == credentialsOK {
			if token == "" || strings.ContainsAny(token[:1], " \t") || strings.ContainsAny(token[len(token)-1:], " \t") {
				t.Fatalf("bearerToken(%q) = %q: empty or with whitespace around it", v, token)
			}
			if !strings.Contains(v, token) {
				t.Fatalf("bearerToken(%q) = %q: not part of the header", v, token)
			}
		} else if token != "" {
			t.Fatalf("bearerToken(%q) = %q with status %d", v, token, status)
		}
		for _, padded := range []string{" " + v, v + " ", "\t" + v + "\t "} {
			if tok2, st2 := bearerToken(http.Header{"Authorization": {padded}}); tok2 != token || st2 != status {
				t.Fatalf("bearerToken(%q) = %q, %d but bearerToken(%q) = %q, %d", v, token, status, padded, tok2, st2)
			}
		}
	})
}

// FuzzAdminBody: whatever body the management routes get, they never
// panic nor answer 5xx: bad input is a 4xx with a JSON error.
func FuzzAdminBody(f *testing.F) {
	for _, s := range []string{
		`{"id":"billing","base_url":"http://127.0.0.1:9"}`,
		`{"integration":"billing","name":"ci","expires_in":"30d"}`,
		`{"integration":"billing","name":"ci","name":"x"}`,
		`{"grace":"1h"}`, `{"base_url":"http://127.0.0.1:10"}`,
		`{`, `[]`, `null`, `"x"`, `{"a":{"b":[1,{"c":2,"c":3}]}}`, "", "\xff", `{"name":"\u202e"}`,
		`{"integration":"billing","name":"ci","expires_in":"1ns"}`,
	} {
		for route := range 4 {
			f.Add(uint8(route), s)
		}
	}
	srv, _ := adminServer(f)
	call(f, srv, "POST", "/keygate/integrations", `{"id":"billing","base_url":"http://127.0.0.1:9"}`, nil)
	var created manage.CreatedKeyJSON
	call(f, srv, "POST", "/keygate/keys", `{"integration":"billing","name":"fuzz"}`, &created)
	routes := []struct{ method, path string }{
		{"POST", "/keygate/integrations"},
		{"PATCH", "/keygate/integrations/billing"},
		{"POST", "/keygate/keys"},
		{"POST", "/keygate/keys/" + created.ID + "/rotate"},
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		r := routes[int(route)%len(routes)]
		var answer map[string]any
		status := call(t, srv, r.method, r.path, body, &answer)
		if status >= 500 {
			t.Fatalf("%s %s %q: status %d %v", r.method, r.path, body, status, answer)
		}
		if status >= 400 && answer["error"] == nil {
			t.Fatalf("%s %s %q: status %d without an error", r.method, r.path, body, status)
		}
	})
}
