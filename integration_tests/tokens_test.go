package integration_tests

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keygate/keygate/internal/poll"
)

// getToken gets an access token for k from gw's token endpoint with the
// standard OAuth 2.0 client, unchanged, and remembers it as a secret.
func getToken(t *testing.T, h *harness, gw *gateway, k createdKey) *oauth2.Token {
	t.Helper()
	cfg := clientcredentials.Config{ClientID: k.ID, ClientSecret: k.Key, TokenURL: gw.URL + "/oauth/token"}
	tok, err := cfg.Token(t.Context())
	if err != nil {
		t.Fatalf("client credentials token for %s: %v", k.ID, err)
	}
	h.remember(tok.AccessToken)
	return tok
}

// TestStandardClientCallsWithToken: golang.org/x/oauth2's client
// credentials flow gets a token from keygate_token and calls an
// integration with it, on both stores; the auth log says it was a token.
func TestStandardClientCallsWithToken(t *testing.T) {
	t.Parallel()
	startedWorlds(t, func(t *testing.T, w *world, gw *gateway) {
		k := w.h.createKey("echo", "oauth client")
		cfg := clientcredentials.Config{ClientID: k.ID, ClientSecret: k.Key, TokenURL: gw.URL + "/oauth/token"}
		tok, err := cfg.Token(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		w.h.remember(tok.AccessToken)
		if !strings.HasPrefix(tok.AccessToken, "kgt_") || tok.TokenType != "Bearer" || time.Until(tok.Expiry) < 14*time.Minute {
			t.Fatalf("token type %q, expiry %v, kgt_ prefix %v", tok.TokenType, tok.Expiry, strings.HasPrefix(tok.AccessToken, "kgt_"))
		}
		// The client the library builds sends it.
		resp, err := cfg.Client(t.Context()).Get(gw.URL + "/things")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("call with the token: status %d, want 200", resp.StatusCode)
		}
		e := gw.get(t, "/with-token", tok.AccessToken).echoed(t)
		if e.Path != "/v1/with-token" || e.Header.Get("X-Keygate-Key-Id") != k.ID || e.Header.Get("Authorization") != "" {
			t.Fatalf("upstream saw path %s, key id %q, Authorization set %v", e.Path, e.Header.Get("X-Keygate-Key-Id"), e.Header.Get("Authorization") != "")
		}
		// A wrong secret is invalid_client, in the auth log as a key.
		bad := clientcredentials.Config{ClientID: k.ID, ClientSecret: "kg_" + strings.Repeat("A", 49), TokenURL: gw.URL + "/oauth/token"}
		_, err = bad.Token(t.Context())
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong secret: %v, want invalid_client 401", err)
		}
		if e := gw.lastRefusal(t, "/oauth/token"); e.str("reason") != "malformed" || e.str("credential") != "key" {
			t.Errorf("token endpoint refusal logged with reason %q, credential %q", e.str("reason"), e.str("credential"))
		}
	})
}

// TestRevokedKeyTokensRefusedEverywhere: tokens cached on three gateways
// are refused by all three within the bound of keys once their key is
// revoked, on both stores.
func TestRevokedKeyTokensRefusedEverywhere(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, _ string, h *harness) {
		w := newWorldOn(t, h)
		gws := w.startGateways(3, gatewayConfig{})
		k := w.h.createKey("echo", "token holder")
		tok := getToken(t, w.h, gws[0], k)
		for i, g := range gws {
			poll.Until(t, 10*time.Second, "every gateway accepting the token", func() (bool, string) {
				r := g.get(t, "/warm", tok.AccessToken)
				return r.status == http.StatusOK, fmt.Sprintf("gateway %d: status %d", i+1, r.status)
			})
		}
		client := &http.Client{Timeout: 5 * time.Second}
		defer client.CloseIdleConnections()
		watches := make([]*refusalWatch, len(gws))
		for i, g := range gws {
			watches[i] = watchRefusal(g, client, tok.AccessToken, propagationBound+3*time.Second)
		}
		began := time.Now()
		w.h.mustCLI("keys", "revoke", k.ID)
		for i, watch := range watches {
			refusedAt, err := watch.wait()
			if err != nil {
				t.Fatalf("gateway %d: %v", i+1, err)
			}
			if d := refusedAt.Sub(began); d > propagationBound {
				t.Errorf("gateway %d refused the revoked key's token %v after the revocation began, want at most %v", i+1, d, propagationBound)
			}
		}
		if e := gws[1].lastRefusal(t, "/watch"); e.str("reason") != "revoked" || e.str("credential") != "token" || e.str("key_id") != k.ID {
			t.Errorf("auth log: reason %q, credential %q, key_id %q", e.str("reason"), e.str("credential"), e.str("key_id"))
		}

		// Confirmed revocation covers tokens: once `keys revoke` and
		// `keys delete` have printed that every gateway refuses the
		// key, every gateway refuses its token too, at once.
		for _, op := range []string{"revoke", "delete"} {
			k := w.h.createKey("echo", "confirmed "+op)
			tok := getToken(t, w.h, gws[2], k)
			for i, g := range gws {
				poll.Until(t, 10*time.Second, "every gateway accepting the token", func() (bool, string) {
					r := g.get(t, "/warm-"+op, tok.AccessToken)
					return r.status == http.StatusOK, fmt.Sprintf("gateway %d: status %d", i+1, r.status)
				})
			}
			if out := w.h.mustCLI("keys", op, k.ID); !strings.Contains(out, "refused by 3/3 gateways") {
				t.Fatalf("keys %s: %q, want it confirmed by 3/3 gateways", op, out)
			}
			for i, g := range gws {
				if r := g.get(t, "/after-"+op, tok.AccessToken); r.status != http.StatusUnauthorized {
					t.Errorf("gateway %d, right after keys %s was confirmed: the token got %d, want 401", i+1, op, r.status)
				}
			}
		}
	})
}

// TestExpiredAndForgedTokensRefused: an expired token, tampered ones and
// one signed by a key the gateways do not have are refused, and a token
// whose signing key was withdrawn from the store stops working.
func TestExpiredAndForgedTokensRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(gatewayConfig{TokenTTL: "2s"})
	k := w.h.createKey("echo", "short lived")
	tok := getToken(t, w.h, gw, k)
	gw.get(t, "/fresh", tok.AccessToken).echoed(t)

	parts := strings.Split(strings.TrimPrefix(tok.AccessToken, "kgt_"), ".")
	var claims map[string]any
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var hdr map[string]any
	json.Unmarshal(header, &hdr)
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	claims["exp"] = float64(time.Now().Add(time.Hour).Unix())
	_, foreign, _ := ed25519.GenerateKey(rand.Reader)
	input := enc(hdr) + "." + enc(claims)
	forged := map[string]string{
		"changed claims": "kgt_" + parts[0] + "." + enc(claims) + "." + parts[2],
		"alg none":       "kgt_" + enc(map[string]any{"alg": "none", "typ": "at+jwt", "kid": hdr["kid"]}) + "." + parts[1] + ".",
		"unknown signer": "kgt_" + input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(foreign, []byte(input))),
		"unknown kid": func() string {
			in := enc(map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": "nosuchkid"}) + "." + enc(claims)
			return "kgt_" + in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(foreign, []byte(in)))
		}(),
	}
	for name, raw := range forged {
		path := "/forged/" + strings.ReplaceAll(name, " ", "-")
		r := gw.get(t, path, raw)
		assertRefused(t, r, http.StatusUnauthorized, challengeInvalid)
		if e := gw.authEntry(t, path); e.str("reason") != "malformed" || e.str("credential") != "token" || e.str("key_id") != "" {
			t.Errorf("%s: auth log reason %q, credential %q, key_id %q (a forged claim must not be logged as whose it is)", name, e.str("reason"), e.str("credential"), e.str("key_id"))
		}
	}
	poll.Until(t, 10*time.Second, "the token expiring", func() (bool, string) {
		r := gw.get(t, "/expired", tok.AccessToken)
		return r.status == http.StatusUnauthorized, http.StatusText(r.status)
	})
	// Its key's name is logged when the gateway has the key cached (this
	// gateway's cache_ttl is 1s: not always under load).
	if e := gw.lastRefusal(t, "/expired"); e.str("reason") != "expired" || e.str("credential") != "token" || e.str("key_id") != k.ID || (e.str("key_name") != "short lived" && e.str("key_name") != "") || e.str("integration") != "echo" {
		t.Errorf("expired token: auth log reason %q, credential %q, key_id %q, key_name %q, integration %q", e.str("reason"), e.str("credential"), e.str("key_id"), e.str("key_name"), e.str("integration"))
	}

	// An operator withdraws the signing keys (say one leaked): a gateway
	// started after that refuses an unexpired token of the old key as of
	// an unknown signing key.
	long := w.start(gatewayConfig{})
	fresh := getToken(t, w.h, long, k)
	long.get(t, "/before-withdrawal", fresh.AccessToken).echoed(t)
	gw.stop()
	long.stop()
	if _, err := w.h.dbConn().Exec(context.Background(), `DELETE FROM keygate_signing_keys`); err != nil {
		t.Fatal(err)
	}
	after := w.start(gatewayConfig{})
	r := after.get(t, "/withdrawn", fresh.AccessToken)
	assertRefused(t, r, http.StatusUnauthorized, challengeInvalid)
	if e := after.authEntry(t, "/withdrawn"); e.str("reason") != "malformed" || e.str("credential") != "token" {
		t.Errorf("token of a withdrawn signing key: reason %q, want malformed", e.str("reason"))
	}
	after.get(t, "/new-signing-key", getToken(t, w.h, after, k).AccessToken).echoed(t)
}

// TestExchangeOnlyKey: an exchange-only key is refused at the edge with
// reason exchange_only and gets a token at the endpoint, which works.
func TestExchangeOnlyKey(t *testing.T) {
	t.Parallel()
	startedWorlds(t, func(t *testing.T, w *world, gw *gateway) {
		k := w.h.createKey("echo", "exchange only", "--exchange-only")
		r := gw.get(t, "/direct", k.Key)
		assertRefused(t, r, http.StatusUnauthorized, challengeInvalid)
		if e := gw.authEntry(t, "/direct"); e.str("reason") != "exchange_only" || e.str("key_id") != k.ID || e.str("credential") != "key" {
			t.Errorf("auth log: reason %q, key_id %q, credential %q", e.str("reason"), e.str("key_id"), e.str("credential"))
		}
		tok := getToken(t, w.h, gw, k)
		gw.get(t, "/via-token", tok.AccessToken).echoed(t)
		// JWKS lists the key that signed it.
		jwks := gw.get(t, "/jwks.json", "")
		var set struct {
			Keys []struct{ Kid, Kty, Crv string } `json:"keys"`
		}
		if jwks.status != 200 || json.Unmarshal(jwks.body, &set) != nil || len(set.Keys) == 0 || set.Keys[0].Kty != "OKP" || set.Keys[0].Crv != "Ed25519" {
			t.Fatalf("JWKS: status %d, %s", jwks.status, jwks.body)
		}
	})
}

// TestTokenLivesNoLongerThanItsKey: a token's expires_in (and exp) is cut
// to what is left of its key's life, by the key's expiry or max_key_age,
// so that a client's token cache never holds a token its key's end
// already refuses.
func TestTokenLivesNoLongerThanItsKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(gatewayConfig{MaxKeyAge: "10m"}) // token_ttl: the default 15m
	for _, c := range []struct {
		name    string
		flags   []string
		longest time.Duration
	}{
		{"expiring key", []string{"--expires-in", "90s"}, 90 * time.Second},
		{"max_key_age", nil, 10 * time.Minute},
	} {
		k := w.h.createKey("echo", c.name, c.flags...)
		tok := getToken(t, w.h, gw, k)
		if left := time.Until(tok.Expiry); left > c.longest || left < c.longest-time.Minute {
			t.Errorf("%s: the token expires in %v, want no later than the key, in %v", c.name, left.Round(time.Second), c.longest)
		}
		gw.get(t, "/capped", tok.AccessToken).echoed(t)
	}
}

// TestExchangeOnlyRefusalIsNoUse: an exchange-only key refused at the
// edge is not a use of it (last_used_at stays empty through a flush that
// wrote another key's use made after it); its exchange at the token
// endpoint is.
func TestExchangeOnlyRefusalIsNoUse(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(gatewayConfig{LastUsedInterval: "100ms"})
	k := w.h.createKey("echo", "exchange only", "--exchange-only")
	other := w.h.createKey("echo", "ordinary")
	assertRefused(t, gw.get(t, "/direct", k.Key), http.StatusUnauthorized, challengeInvalid)
	gw.get(t, "/ordinary", other.Key).echoed(t)
	lastUsed := func(id string) *time.Time {
		for _, r := range w.h.listKeys("--integration", "echo") {
			if r.ID == id {
				return r.LastUsedAt
			}
		}
		t.Fatalf("key %s not listed", id)
		return nil
	}
	poll.Until(t, 10*time.Second, "the ordinary key's use flushed", func() (bool, string) {
		return lastUsed(other.ID) != nil, "last_used_at still empty"
	})
	if at := lastUsed(k.ID); at != nil {
		t.Fatalf("exchange-only key refused at the edge has last_used_at %v, want none", at)
	}
	getToken(t, w.h, gw, k)
	poll.Until(t, 10*time.Second, "the exchange recorded as a use", func() (bool, string) {
		return lastUsed(k.ID) != nil, "last_used_at still empty"
	})
}

// TestCredentialRotateTwiceRollsOnce: `keygate credential rotate` is a
// no-op until the key is due, then rolls it once however often it runs;
// `credential token` prints a cached token that works.
func TestCredentialRotateTwiceRollsOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(gatewayConfig{})
	k := w.h.createKey("echo", "rolled by cron", "--rotate-every", "30d")
	file := filepath.Join(t.TempDir(), "echo.key")
	if err := os.WriteFile(file, []byte(k.Key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rotate := func() string {
		return w.h.mustCLI("credential", "rotate", "--url", gw.URL+"/keygate/rotate", "--key-file", file)
	}
	if out := rotate(); !strings.Contains(out, "not due") {
		t.Fatalf("before due: %q", out)
	}
	if _, err := w.h.dbConn().Exec(context.Background(), `UPDATE keygate_keys SET created_at = now() - interval '31 days' WHERE id = $1`, k.ID); err != nil {
		t.Fatal(err)
	}
	first, second := rotate(), rotate()
	if !strings.Contains(first, "rolled") || !strings.Contains(second, "not due") {
		t.Fatalf("two runs: %q then %q; want rolled then not due", first, second)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	next := strings.TrimSpace(string(data))
	w.h.remember(next)
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 || next == k.Key {
		t.Fatalf("key file mode %v, changed %v", fi.Mode().Perm(), next != k.Key)
	}
	if n := len(w.h.listKeys("--integration", "echo")); n != 2 {
		t.Fatalf("%d keys after two runs, want the old and one new", n)
	}
	gw.get(t, "/new-key", next).echoed(t)
	gw.get(t, "/old-key-in-grace", k.Key).echoed(t)

	tokenOut := func() string {
		return strings.TrimSpace(w.h.mustCLI("credential", "token", "--url", gw.URL+"/oauth/token", "--key-file", file))
	}
	tok := tokenOut()
	w.h.remember(tok)
	if again := tokenOut(); again != tok {
		t.Fatal("credential token fetched a new token while the cached one was fresh")
	}
	gw.get(t, "/cli-token", tok).echoed(t)
	if fi, err := os.Stat(file + ".token"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token cache: %v, %v", fi, err)
	}
}

// lastRefusal waits for the last "request refused" auth log entry of uri,
// for URIs that many requests share (a watch, a token endpoint).
func (g *gateway) lastRefusal(t *testing.T, uri string) logEntry {
	t.Helper()
	var found logEntry
	poll.Until(t, 10*time.Second, "a refusal of "+uri+" in the auth log", func() (bool, string) {
		found = nil
		for _, e := range g.logEntries(t) {
			if e.str("logger") == authLogger && e.str("msg") == "request refused" && e.str("uri") == uri {
				found = e
			}
		}
		return found != nil, "none yet"
	})
	return found
}
