package caddymodule

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/keystore/secretscan"
	"github.com/keygate/keygate/keystore/secretscan/secretscantest"
	"github.com/keygate/keygate/keystore/sqlite"
	"github.com/keygate/keygate/manage"
	"github.com/keygate/keygate/verify"
)

// countingStore is a real store that counts its lookups by hash.
type countingStore struct {
	keystore.Store
	lookups atomic.Int64
}

func (s *countingStore) LookupCredential(ctx context.Context, h keystore.Hash) (keystore.Credential, error) {
	s.lookups.Add(1)
	return s.Store.LookupCredential(ctx, h)
}

// scanFixture is a secret-scanning handler over a fresh SQLite store,
// with GitHub's and GitLab's signing keys in its public keys file, and the
// logs it writes.
type scanFixture struct {
	t        *testing.T
	store    *countingStore
	app      *App
	handler  *SecretScanning
	github   *secretscantest.Partner
	gitlab   *secretscantest.Partner
	keysPath string
	logs     *observer.ObservedLogs
	audit    *observer.ObservedLogs
	mgr      *manage.Manager
	secrets  []string // every key made, to check that none is logged
}

func newScanFixture(t *testing.T) *scanFixture {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "keygate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	f := &scanFixture{t: t, store: &countingStore{Store: s},
		github:   secretscantest.NewPartner(t, "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c", elliptic.P256()),
		gitlab:   secretscantest.NewPartner(t, "6917d7584f0fa65c8c33df5ab20f54dfb9a6e6ae", elliptic.P256()),
		keysPath: filepath.Join(t.TempDir(), "partner-keys.json"),
	}
	secretscantest.WriteKeysFile(t, f.keysPath, f.github, f.gitlab)
	verifier, err := verify.NewVerifier(f.store, verify.VerifierConfig{MaxCost: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(verifier.Close)
	f.app = &App{KeyPrefix: keystore.DefaultPrefix}
	f.app.bind(gateway.New(f.store, verifier), gateway.Config{})
	core, logs := observer.New(zapcore.DebugLevel)
	auditCore, audit := observer.New(zapcore.InfoLevel)
	f.logs, f.audit = logs, audit
	f.handler = &SecretScanning{PublicKeys: f.keysPath}
	if err := f.handler.setup(f.app, zap.New(core), zap.New(auditCore).Named(manage.AuditLoggerName)); err != nil {
		t.Fatal(err)
	}
	f.mgr = &manage.Manager{Store: s, Now: time.Now, Bin: "keygate"}
	if _, err := f.mgr.AddIntegration(t.Context(), "billing", "http://billing.internal:8080", "", ""); err != nil {
		t.Fatal(err)
	}
	return f
}

// key creates a key of integration billing, expiring after lifetime
// unless it is empty.
func (f *scanFixture) key(name, lifetime string) manage.CreatedKey {
	f.t.Helper()
	k, err := f.mgr.CreateKey(f.t.Context(), manage.KeyRequest{Integration: "billing", Name: name, ExpiresIn: lifetime})
	if err != nil {
		f.t.Fatal(err)
	}
	f.secrets = append(f.secrets, k.Secret)
	return k
}

// post sends body to the handler, signed by partner under header prefix
// ("Github", "Gitlab") unless partner is nil.
func (f *scanFixture) post(partner *secretscantest.Partner, prefix string, body []byte) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/hooks/secret-scanning", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if partner != nil {
		partner.SignRequest(f.t, req, prefix, body)
	}
	w := httptest.NewRecorder()
	if err := f.handler.ServeHTTP(w, req, nil); err != nil {
		f.t.Fatal(err)
	}
	return w
}

// feedback decodes a 200 answer.
func (f *scanFixture) feedback(w *httptest.ResponseRecorder) []secretscan.Feedback {
	f.t.Helper()
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		f.t.Fatalf("status %d, Content-Type %q, body %s; want 200 JSON", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	var fb []secretscan.Feedback
	if err := json.Unmarshal(w.Body.Bytes(), &fb); err != nil {
		f.t.Fatalf("decoding the feedback: %v", err)
	}
	return fb
}

// status returns the key's status in the store.
func (f *scanFixture) status(id string) string {
	f.t.Helper()
	k, err := f.store.GetKey(f.t.Context(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return k.Status(time.Now())
}

// revocations returns the audit entries of revocations.
func (f *scanFixture) revocations() []observer.LoggedEntry {
	return f.audit.FilterMessage("key revoked").All()
}

// checkNoSecretLogged fails if any log entry holds a key made by the
// fixture.
func (f *scanFixture) checkNoSecretLogged() {
	f.t.Helper()
	for _, logs := range []*observer.ObservedLogs{f.logs, f.audit} {
		for _, e := range logs.All() {
			line, _ := json.Marshal(e.ContextMap())
			for _, s := range f.secrets {
				if strings.Contains(e.Message+string(line), s[len(keystore.DefaultPrefix)+1:][:12]) {
					f.t.Errorf("log entry %q holds a key", e.Message)
				}
			}
		}
	}
}

func match(token, url string) map[string]string {
	return map[string]string{"token": token, "type": "keygate_api_key", "url": url, "source": "content"}
}

func TestSecretScanningRevokesLeakedKeys(t *testing.T) {
	f := newScanFixture(t)
	valid := f.key("ci runner", "")
	revoked := f.key("old", "")
	if _, err := f.mgr.RevokeKey(t.Context(), revoked.ID); err != nil {
		t.Fatal(err)
	}
	expired := f.key("temp", "1m")
	deleted := f.key("gone", "")
	if _, err := f.mgr.DeleteKey(t.Context(), deleted.ID); err != nil {
		t.Fatal(err)
	}
	unknown, _, err := keystore.GenerateKey(nil, keystore.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	// The valid key is in this instance's cache, as after a request.
	if _, err := f.app.auth.Authenticate(t.Context(), valid.Secret); err != nil {
		t.Fatalf("the valid key before the report: %v", err)
	}
	// The handler's clock is past the expiry of "temp".
	f.handler.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	lookupsBefore := f.store.lookups.Load()

	const leakURL = "https://github.com/octocat/Hello-World/blob/1234/config.env"
	body := secretscantest.Report(t,
		match(valid.Secret, leakURL),
		match(revoked.Secret, ""),
		match(expired.Secret, ""),
		match(deleted.Secret, ""),
		match(unknown, ""),
		match("kg_notakey", ""),
		match(valid.Secret, "https://github.com/octocat/Hello-World/blob/1234/again.env"),
	)
	fb := f.feedback(f.post(f.github, "Github", body))

	want := []struct{ token, label string }{
		{valid.Secret, "true_positive"}, {revoked.Secret, "true_positive"}, {expired.Secret, "true_positive"},
		{deleted.Secret, "true_positive"}, {unknown, "false_positive"}, {"kg_notakey", "false_positive"},
		{valid.Secret, "true_positive"},
	}
	if len(fb) != len(want) {
		t.Fatalf("%d feedback entries, want %d: %+v", len(fb), len(want), fb)
	}
	for i, w := range want {
		if fb[i].TokenHash != secretscan.TokenHash(w.token) || fb[i].Label != w.label || fb[i].TokenType != "keygate_api_key" {
			t.Errorf("feedback[%d] = %+v, want label %s for the hash of its token", i, fb[i], w.label)
		}
	}
	if got := f.status(valid.ID); got != "revoked" {
		t.Errorf("the leaked key is %s, want revoked", got)
	}
	// One lookup per distinct well-formed key; none for "kg_notakey".
	if n := f.store.lookups.Load() - lookupsBefore; n != 5 {
		t.Errorf("%d lookups, want 5: one per distinct keygate key, none for the rest", n)
	}
	// Refused by this instance at once, without waiting for a change feed
	// (this fixture has none).
	if _, err := f.app.auth.Authenticate(t.Context(), valid.Secret); !errors.Is(err, keystore.ErrRevoked) {
		t.Errorf("the leaked key after the report: %v, want ErrRevoked from this instance's cache", err)
	}
	entries := f.revocations()
	if len(entries) != 1 {
		t.Fatalf("%d revocations audited, want 1", len(entries))
	}
	e := entries[0].ContextMap()
	if e["actor"] != "secret-scanning:github" || e["key_id"] != valid.ID || e["url"] != leakURL || e["source"] != "content" ||
		e["token_hash"] != secretscan.TokenHash(valid.Secret) {
		t.Errorf("audit entry %v: want actor secret-scanning:github, the key id, the reported url and source", e)
	}
	f.checkNoSecretLogged()
}

func TestSecretScanningReplayIsHarmless(t *testing.T) {
	f := newScanFixture(t)
	k := f.key("ci runner", "")
	body := secretscantest.Report(t, match(k.Secret, "https://github.com/o/r/blob/c/f"))
	first := f.post(f.github, "Github", body)
	f.feedback(first)
	second := f.post(f.github, "Github", body)
	if second.Code != http.StatusOK || second.Body.String() != first.Body.String() {
		t.Errorf("replay: status %d, body %s; want 200 and the first answer %s", second.Code, second.Body, first.Body)
	}
	if n := len(f.revocations()); n != 1 {
		t.Errorf("%d revocations after a replay, want 1", n)
	}
}

func TestSecretScanningGitLab(t *testing.T) {
	f := newScanFixture(t)
	k := f.key("deploy", "")
	// GitLab sends no source.
	body := []byte(`[{"type": "keygate_api_key", "token": "` + k.Secret + `", "url": "https://gitlab.example.com/g/p/-/raw/abc/file.env"}]`)
	fb := f.feedback(f.post(f.gitlab, "Gitlab", body))
	if len(fb) != 1 || fb[0].Label != "true_positive" {
		t.Fatalf("feedback %+v, want one true_positive", fb)
	}
	if got := f.status(k.ID); got != "revoked" {
		t.Errorf("the leaked key is %s, want revoked", got)
	}
	entries := f.revocations()
	if len(entries) != 1 || entries[0].ContextMap()["actor"] != "secret-scanning:gitlab" {
		t.Errorf("audit entries %v, want one revocation by secret-scanning:gitlab", entries)
	}
}

func TestSecretScanningRefusesUnsignedReports(t *testing.T) {
	f := newScanFixture(t)
	k := f.key("ci runner", "")
	body := secretscantest.Report(t, match(k.Secret, ""))
	stranger := secretscantest.NewPartner(t, f.github.ID, elliptic.P256())
	unknownID := secretscantest.NewPartner(t, "f9525bf080f75b3506ca1ead061add62b8633a346606dc5fe544e29231c6ee0d", elliptic.P256())
	for _, tc := range []struct {
		name string
		edit func(r *http.Request)
		want string
	}{
		{"no signature", func(r *http.Request) {}, "missing signature"},
		{"identifier only", func(r *http.Request) { r.Header.Set("Github-Public-Key-Identifier", f.github.ID) }, "missing signature"},
		{"signed by a stranger under GitHub's identifier", func(r *http.Request) { stranger.SignRequest(t, r, "Github", body) }, "invalid signature"},
		{"signature of another body", func(r *http.Request) {
			f.github.SignRequest(t, r, "Github", secretscantest.Report(t, match("kg_other", "")))
		}, "invalid signature"},
		{"unknown key identifier", func(r *http.Request) { unknownID.SignRequest(t, r, "Github", body) }, "unknown public key identifier"},
		{"garbage signature", func(r *http.Request) {
			r.Header.Set("Github-Public-Key-Identifier", f.github.ID)
			r.Header.Set("Github-Public-Key-Signature", "MEUCIQ==")
		}, "invalid signature"},
		{"both partners' headers", func(r *http.Request) {
			f.github.SignRequest(t, r, "Github", body)
			f.gitlab.SignRequest(t, r, "Gitlab", body)
		}, "both GitHub's and GitLab's signature headers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/hooks/secret-scanning", bytes.NewReader(body))
			tc.edit(req)
			w := httptest.NewRecorder()
			if err := f.handler.ServeHTTP(w, req, nil); err != nil {
				t.Fatal(err)
			}
			var answer struct{ Error string }
			if w.Code != http.StatusUnauthorized || json.Unmarshal(w.Body.Bytes(), &answer) != nil || !strings.Contains(answer.Error, tc.want) {
				t.Errorf("status %d, body %s; want 401 with an error saying %q", w.Code, w.Body, tc.want)
			}
		})
	}
	if got := f.status(k.ID); got != "active" {
		t.Errorf("the key is %s after unsigned reports, want active", got)
	}
	if n := f.store.lookups.Load(); n != 0 {
		t.Errorf("%d lookups for unsigned reports, want 0", n)
	}
	if n := len(f.revocations()); n != 0 {
		t.Errorf("%d revocations for unsigned reports, want 0", n)
	}
}

func TestSecretScanningBounds(t *testing.T) {
	f := newScanFixture(t)
	f.handler.MaxBodySize, f.handler.MaxTokens = 4096, 3
	k := f.key("ci runner", "")

	big := secretscantest.Report(t, match(k.Secret, strings.Repeat("x", 5000)))
	if w := f.post(f.github, "Github", big); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a signed body over max_body_size: status %d, want 413", w.Code)
	}
	many := secretscantest.Report(t, match("a", ""), match("b", ""), match(k.Secret, ""), match("d", ""))
	if w := f.post(f.github, "Github", many); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "at most 3") {
		t.Errorf("four tokens, max_tokens 3: status %d, body %s; want 400 saying at most 3", w.Code, w.Body)
	}
	for name, body := range map[string]string{
		"not an array":  `{"token":"` + k.Secret + `"}`,
		"trailing data": `[] {}`,
		"number token":  `[{"token": 7}]`,
	} {
		w := f.post(f.github, "Github", []byte(body))
		if w.Code != http.StatusBadRequest || strings.Contains(w.Body.String(), k.Secret[3:15]) {
			t.Errorf("%s: status %d, body %s; want 400 without the token", name, w.Code, w.Body)
		}
	}
	if got := f.status(k.ID); got != "active" {
		t.Errorf("the key is %s after refused reports, want active", got)
	}
	if n := f.store.lookups.Load(); n != 0 {
		t.Errorf("%d lookups for refused reports, want 0", n)
	}

	req := httptest.NewRequest(http.MethodGet, "/hooks/secret-scanning", nil)
	w := httptest.NewRecorder()
	if err := f.handler.ServeHTTP(w, req, nil); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != http.MethodPost {
		t.Errorf("GET: status %d, Allow %q; want 405, POST", w.Code, w.Header().Get("Allow"))
	}
}

func TestSecretScanningStoreUnavailable(t *testing.T) {
	f := newScanFixture(t)
	k := f.key("ci runner", "")
	if err := f.app.runtime.Destruct(); err != nil {
		t.Fatal(err)
	}
	w := f.post(f.github, "Github", secretscantest.Report(t, match(k.Secret, "")))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("store closed: status %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	// A non-keygate token needs no store.
	if w := f.post(f.github, "Github", secretscantest.Report(t, match("ghp_notours", ""))); w.Code != http.StatusOK {
		t.Errorf("only a foreign token, store closed: status %d, want 200", w.Code)
	}
}

func TestSecretScanningPublicKeysRotation(t *testing.T) {
	f := newScanFixture(t)
	k := f.key("ci runner", "")
	body := secretscantest.Report(t, match(k.Secret, ""))
	next := secretscantest.NewPartner(t, "next-key", elliptic.P256())
	if w := f.post(next, "Github", body); w.Code != http.StatusUnauthorized {
		t.Fatalf("a key not yet in the file: status %d, want 401", w.Code)
	}
	// GitHub rotates; the operator's job rewrites the file. No reload.
	secretscantest.WriteKeysFile(t, f.keysPath, next)
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(f.keysPath, later, later); err != nil {
		t.Fatal(err)
	}
	f.feedback(f.post(next, "Github", body))
	if w := f.post(f.github, "Github", body); w.Code != http.StatusUnauthorized {
		t.Errorf("a key removed from the file: status %d, want 401", w.Code)
	}
	if f.logs.FilterMessage("public keys file read again").Len() != 1 {
		t.Error(`no "public keys file read again" log entry`)
	}
}

func TestSecretScanningConfigRefusals(t *testing.T) {
	dir := t.TempDir()
	p384 := filepath.Join(dir, "p384.json")
	secretscantest.WriteKeysFile(t, p384, secretscantest.NewPartner(t, "k", elliptic.P384()))
	broken := filepath.Join(dir, "broken.json")
	if err := os.WriteFile(broken, []byte(`{"public_keys": [{"key_identifier": "k", "key": "not pem"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	unreadable := filepath.Join(dir, "missing.json")
	for name, tc := range map[string]struct {
		h    SecretScanning
		want string
	}{
		"no public_keys":  {SecretScanning{}, "missing public_keys"},
		"missing file":    {SecretScanning{PublicKeys: unreadable}, "no such file"},
		"no P-256 key":    {SecretScanning{PublicKeys: p384}, "no valid ECDSA P-256 public key"},
		"no valid key":    {SecretScanning{PublicKeys: broken}, "no valid ECDSA P-256 public key"},
		"negative tokens": {SecretScanning{PublicKeys: p384, MaxTokens: -1}, "must be positive"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.h.setup(&App{}, zap.NewNop(), zap.NewNop())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("setup: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
