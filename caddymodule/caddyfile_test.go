package caddymodule

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// adapt turns a Caddyfile into JSON config, as `keygate adapt` does.
func adapt(t *testing.T, caddyfile string) (string, error) {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), map[string]any{"filename": "Caddyfile"})
	return string(out), err
}

// assertJSON fails unless got and want are the same JSON, whatever their
// layout and key order.
func assertJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("adapted config is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("expected config is not JSON: %v\n%s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		gs, _ := json.Marshal(g) // sorted keys
		ws, _ := json.Marshal(w)
		t.Errorf("adapted config:\n%s\nwant:\n%s", gs, ws)
	}
}

func TestAdaptGlobalOption(t *testing.T) {
	for _, tc := range []struct {
		name, options, want string
	}{
		{
			name: "every option",
			options: `keygate {
				database {env.KEYGATE_DB}
				cache_size 64MiB
				cache_ttl 1m
				stale_ttl 45s
				negative_ttl 2s
				lookup_timeout 500ms
				key_prefix acme
			}`,
			want: `{"database":"{env.KEYGATE_DB}","cache_size":67108864,"cache_ttl":60000000000,
				"stale_ttl":45000000000,"negative_ttl":2000000000,"lookup_timeout":500000000,"key_prefix":"acme"}`,
		},
		{
			name:    "SI size and days",
			options: "keygate {\n cache_size 1GB\n cache_ttl 1d\n}",
			want:    `{"cache_size":1000000000,"cache_ttl":86400000000000}`,
		},
		{
			name:    "plain byte count",
			options: "keygate {\n cache_size 1048576\n}",
			want:    `{"cache_size":1048576}`,
		},
		{
			name:    "no block: defaults",
			options: "keygate",
			want:    `{}`,
		},
		{
			name:    "empty block",
			options: "keygate {\n}",
			want:    `{}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := adapt(t, "{\n"+tc.options+"\n}\n")
			if err != nil {
				t.Fatal(err)
			}
			assertJSON(t, got, `{"apps":{"keygate":`+tc.want+`}}`)
		})
	}
}

func TestAdaptGlobalOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name, options, wantErr string
	}{
		{"argument on the option", "keygate postgres://x {\n}", "wrong argument count"},
		{"unknown option", "keygate {\n databse x\n}", `unrecognized keygate option "databse"`},
		{"missing value", "keygate {\n database\n}", "wrong argument count"},
		{"extra value", "keygate {\n database a b\n}", "wrong argument count"},
		{"repeated option", "keygate {\n database a\n database b\n}", "database already specified"},
		{"bad size", "keygate {\n cache_size lots\n}", `invalid cache_size "lots"`},
		{"zero size", "keygate {\n cache_size 0\n}", `invalid cache_size "0"`},
		{"negative size", "keygate {\n cache_size -1MB\n}", `invalid cache_size "-1MB"`},
		{"huge size", "keygate {\n cache_size 100EiB\n}", `invalid cache_size "100EiB"`},
		{"bad duration", "keygate {\n cache_ttl soon\n}", `invalid cache_ttl "soon"`},
		{"zero duration", "keygate {\n negative_ttl 0s\n}", `invalid negative_ttl "0s": must be positive`},
		{"negative duration", "keygate {\n lookup_timeout -1s\n}", `invalid lookup_timeout "-1s": must be positive`},
		{"bad prefix", "keygate {\n key_prefix KG\n}", `invalid key_prefix "KG"`},
		{"block on an option", "keygate {\n database x {\n  y\n }\n}", "database takes no block"},
		{"given twice", "keygate\nkeygate", "only once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := adapt(t, "{\n"+tc.options+"\n}\n")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// siteAddress is the address of the site the directive tests write.
const siteAddress = ":8080"

// siteJSON is the adapted config of that site with these routes.
func siteJSON(routes string) string {
	return `{"apps":{"http":{"servers":{"srv0":{"listen":[":8080"],"routes":` + routes + `}}}}}`
}

func TestAdaptDirective(t *testing.T) {
	for _, tc := range []struct {
		name, site, routes string
	}{
		{
			name:   "bare",
			site:   "keygate",
			routes: `[{"handle":[{"handler":"keygate"}]}]`,
		},
		{
			name: "every subdirective",
			site: "keygate {\n integration billing\n forward_credentials\n}",
			routes: `[{"handle":[{"handler":"keygate","integration":"billing",
				"forward_credentials":true}]}]`,
		},
		{
			name: "matcher and placeholder",
			site: "@tenant path_regexp tenant ^/t/([a-z0-9_-]+)/\n" +
				"keygate @tenant {\n integration {re.tenant.1}\n}",
			routes: `[{"match":[{"path_regexp":{"name":"tenant","pattern":"^/t/([a-z0-9_-]+)/"}}],
				"handle":[{"handler":"keygate","integration":"{http.regexp.tenant.1}"}]}]`,
		},
		{
			name: "path matcher",
			site: "keygate /api/* {\n integration search\n}",
			routes: `[{"match":[{"path":["/api/*"]}],
				"handle":[{"handler":"keygate","integration":"search"}]}]`,
		},
		{
			name: "ordered before reverse_proxy",
			site: "reverse_proxy {\n dynamic keygate\n}\nkeygate",
			routes: `[{"handle":[{"handler":"keygate"},
				{"dynamic_upstreams":{"source":"keygate"},"handler":"reverse_proxy"}]}]`,
		},
		{
			// Ordered as authentication: a handle block beside a top-level
			// keygate is protected by it.
			name: "ordered before handle",
			site: "handle /admin/* {\n respond ok\n}\nkeygate",
			routes: `[{"handle":[{"handler":"keygate"}]},
				{"match":[{"path":["/admin/*"]}],"handle":[{"handler":"subroute","routes":[{"handle":[{"body":"ok","handler":"static_response"}]}]}]}]`,
		},
		{
			// A route with transport keygate's subdirectives: those of
			// transport http, in the same JSON.
			name: "transport keygate",
			site: `keygate
				reverse_proxy {
					dynamic keygate
					transport keygate {
						tls_trust_pool file /etc/ca.pem
						dial_timeout 2s
					}
				}`,
			routes: `[{"handle":[{"handler":"keygate"},
				{"dynamic_upstreams":{"source":"keygate"},"handler":"reverse_proxy",
				   "transport":{"protocol":"keygate","dial_timeout":2000000000,
				     "tls":{"ca":{"pem_files":["/etc/ca.pem"],"provider":"file"}}}}]}]`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := adapt(t, siteAddress+" {\n"+tc.site+"\n}\n")
			if err != nil {
				t.Fatal(err)
			}
			assertJSON(t, got, siteJSON(tc.routes))
		})
	}
}

func TestAdaptDirectiveErrors(t *testing.T) {
	for _, tc := range []struct {
		name, site, wantErr string
	}{
		{"argument", "keygate billing", "wrong argument count"},
		{"unknown subdirective", "keygate {\n integraton billing\n}", `unrecognized keygate subdirective "integraton"`},
		{"integration without id", "keygate {\n integration\n}", "wrong argument count"},
		{"integration with two ids", "keygate {\n integration a b\n}", "wrong argument count"},
		{"invalid integration id", "keygate {\n integration Billing!\n}", `invalid integration "Billing!"`},
		{"integration twice", "keygate {\n integration a\n integration b\n}", "integration already specified"},
		{"forward_credentials with a value", "keygate {\n forward_credentials yes\n}", "wrong argument count"},
		{"block on a subdirective", "keygate {\n integration a {\n  b\n }\n}", "integration takes no block"},
		{"dynamic keygate with an argument", "reverse_proxy {\n dynamic keygate x\n}", "wrong argument count"},
		{"dynamic keygate with a block", "reverse_proxy {\n dynamic keygate {\n  x\n }\n}", "dynamic keygate takes no block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := adapt(t, siteAddress+" {\n"+tc.site+"\n}\n")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
