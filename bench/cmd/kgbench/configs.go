package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
)

// Both Caddy processes share these global options: loopback only, JSON
// log to a file at Caddy's default level, and X-Forwarded-For trusted from
// 127.0.0.1, so that the floods can come from client IPs of their own
// (198.18.0.0/15, the range RFC 2544 sets aside for benchmarks: header
// values only, no traffic goes there).
const globalOptions = `	admin 127.0.0.1:{{.Admin}}
	persist_config off
	auto_https off
	default_bind 127.0.0.1
	servers {
		trusted_proxies static 127.0.0.1/32
		client_ip_headers X-Forwarded-For
	}
	log {
		output file "{{.Log}}"
		format json
	}
`

// plainCaddyfile is stock Caddy's: the baseline, a static header matcher
// for the one legit key, and forward_auth to the auth peer.
var plainCaddyfile = template.Must(template.New("plain").Parse(`{
` + globalOptions + `}

http://127.0.0.1:{{.Plain}} {
	reverse_proxy 127.0.0.1:{{.Upstream}}
}

http://127.0.0.1:{{.Header}} {
	@key header Authorization "Bearer {{.Key}}"
	handle @key {
		reverse_proxy 127.0.0.1:{{.Upstream}}
	}
	handle {
		respond 401
	}
}

http://127.0.0.1:{{.Forward}} {
	forward_auth 127.0.0.1:{{.Peer}} {
		uri /auth
	}
	reverse_proxy 127.0.0.1:{{.Upstream}}
}
`))

// keygateCaddyfile is keygate's: a static reverse_proxy (with the token
// endpoint) and the dynamic upstream of the key's integration, with the app's default settings but
// for -max-lookup-rate's.
var keygateCaddyfile = template.Must(template.New("keygate").Parse(`{
` + globalOptions + `	keygate {
		database "{{.Database}}"
		{{- with .MaxLookupRate}}
		max_lookup_rate {{.}}
		{{- end}}
	}
}

http://127.0.0.1:{{.Static}} {
	keygate_token /oauth/token
	keygate
	reverse_proxy 127.0.0.1:{{.Upstream}}
}

http://127.0.0.1:{{.Dynamic}} {
	keygate
	reverse_proxy {
		dynamic keygate
	}
}
`))

// writeConfig renders tmpl with data into dir/name.
func writeConfig(dir, name string, tmpl *template.Template, data map[string]any) (string, error) {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("writing %s: %w", name, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", name, err)
	}
	return path, nil
}
