package integration_tests

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const unsealedWarning = "token signing keys are stored unsealed: whoever can read the key store can issue access tokens; set signing_key_secret in the keygate global options"

// TestSigningKeysSealed: with signing_key_secret, the private keys in the
// store are sealed, and gateways with the same secret share them; one
// with another secret, or none, still verifies the tokens but cannot issue
// any (503, and an error logged); a token endpoint without a secret warns
// that the keys are unsealed. A secret that is too short, or whose
// variable is unset, keeps the config from loading.
func TestSigningKeysSealed(t *testing.T) {
	t.Parallel()
	secret, other := randomSecret(t), randomSecret(t)
	w := newWorld(t)
	a := w.start(gatewayConfig{SigningKeySecret: secret})
	b := w.start(gatewayConfig{SigningKeySecret: secret})
	k := w.h.createKey("echo", "sealed")

	var plain int
	if err := w.h.dbConn().QueryRow(context.Background(), `SELECT count(*) FROM keygate_signing_keys WHERE get_byte(private_key, 0) <> 1`).Scan(&plain); err != nil || plain != 0 {
		t.Fatalf("%d signing keys not sealed (%v), want none", plain, err)
	}
	fromA, fromB := getToken(t, w.h, a, k).AccessToken, getToken(t, w.h, b, k).AccessToken
	b.get(t, "/a-token-on-b", fromA).echoed(t)
	a.get(t, "/b-token-on-a", fromB).echoed(t)

	for name, cfg := range map[string]gatewayConfig{"another secret": {SigningKeySecret: other}, "no secret": {}} {
		g := w.start(cfg)
		g.get(t, "/verifies", fromA).echoed(t)
		r := g.request(t, http.MethodPost, "/oauth/token", "", func(r *http.Request) {
			withBody("grant_type=client_credentials")(r)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth(k.ID, k.Key)
		})
		if r.status != http.StatusServiceUnavailable || r.errorBody(t) != "temporarily_unavailable" {
			t.Errorf("%s: the token endpoint answered %d, want 503 temporarily_unavailable: it cannot open the signing key", name, r.status)
		}
		if !g.logged(t, "cannot open a token signing key: is signing_key_secret the same on every gateway?") {
			t.Errorf("%s: no error logged about the signing key it cannot open", name)
		}
		if warned := g.logged(t, unsealedWarning); warned != (cfg.SigningKeySecret == "") {
			t.Errorf("%s: unsealed-keys warning logged %v", name, warned)
		}
	}
	for _, g := range []*gateway{a, b} {
		if g.logged(t, unsealedWarning) {
			t.Error("a gateway with signing_key_secret warned that the keys are unsealed")
		}
		if out := g.outputs(); strings.Contains(out, secret) {
			t.Error("the gateway's output holds signing_key_secret")
		}
	}

	conf := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(conf, []byte("{\n\tkeygate {\n\t\tsigning_key_secret {env.KEYGATE_SIGNING_KEY_SECRET}\n\t}\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		env  []string
		want string
	}{
		"unset variable": {nil, "signing_key_secret {env.KEYGATE_SIGNING_KEY_SECRET} is empty: is its environment variable set?"},
		"short secret":   {[]string{"KEYGATE_SIGNING_KEY_SECRET=hunter2"}, "signing_key_secret is 7 bytes long, want at least 32"},
	} {
		env := append([]string{"KEYGATE_DATABASE_URL=" + w.h.dbURL}, c.env...)
		res := runKeygate(t, env, "validate", "--config", conf, "--adapter", "caddyfile")
		if res.code == 0 || !strings.Contains(res.stderr, c.want) || strings.Contains(res.stderr, "hunter2") {
			t.Errorf("%s: validate exit code %d, want an error saying %q (and never the secret):\n%s", name, res.code, c.want, res.stderr)
		}
	}
}

// randomSecret returns a signing_key_secret as `openssl rand -base64 32`
// would.
func randomSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}
