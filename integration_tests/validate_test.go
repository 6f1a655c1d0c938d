package integration_tests

import (
	"strings"
	"testing"
)

// TestValidateShippedCaddyfiles runs `keygate validate` on every Caddyfile
// the repository ships, in the environment each is meant for. validate
// loads the config as `run` would, the keygate app opening its key store,
// so a config passes only if it would start.
func TestValidateShippedCaddyfiles(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	compose := readCompose(t).service(t, "gateway-1")
	for _, tc := range []struct {
		name, config string
		env          []string
	}{
		// make run: nothing configured, the default SQLite store.
		{"Caddyfile.example", "Caddyfile.example", nil},
		// The image's default config: nothing configured either.
		{"image default", "deploy/Caddyfile", nil},
		// compose.yaml's gateways (the postgres service is the test's
		// database), with their site on :80, as there.
		{"compose gateway", compose.mountedAt(t, "/etc/caddy/Caddyfile"), []string{"KEYGATE_DATABASE_URL=" + h.dbURL}},
		// systemd with a domain name: automatic HTTPS, validated offline.
		{"systemd with a domain", "deploy/Caddyfile", []string{
			"KEYGATE_DATABASE_URL=" + h.dbURL, "KEYGATE_SITE=api.example.com", "KEYGATE_BIND=127.0.0.1",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			config := tc.config
			if !strings.HasPrefix(config, "/") {
				config = repoPath(t, config)
			}
			res := runKeygate(t, tc.env, "validate", "--config", config, "--adapter", "caddyfile")
			if res.code != 0 || !strings.Contains(res.stdout, "Valid configuration") {
				t.Errorf("keygate validate --config %s: exit code %d, want 0 and \"Valid configuration\":\n%s", tc.config, res.code, res.stderr)
			}
		})
	}

	// validate opens the key store: a config whose database cannot be
	// reached does not pass.
	res := runKeygate(t, []string{"KEYGATE_DATABASE_URL=postgres://keygate@127.0.0.1:1/keygate"},
		"validate", "--config", repoPath(t, "deploy/Caddyfile"), "--adapter", "caddyfile")
	if res.code == 0 || !strings.Contains(res.stderr, "key store") {
		t.Errorf("keygate validate with an unreachable database: exit code %d, want an error about the key store:\n%s", res.code, res.stderr)
	}
}
