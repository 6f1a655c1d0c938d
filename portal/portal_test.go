package portal

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
)

var testNow = time.Date(2026, 12, 2, 10, 30, 0, 0, time.UTC)

// harness serves a portal over fakeOps at /portal, as user (empty: none),
// on a loopback test server.
type harness struct {
	t    *testing.T
	ops  *fakeOps
	p    *Portal
	srv  *httptest.Server
	user string
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, ops: newFakeOps(testNow), user: "alice"}
	p, err := New(Config{Ops: h.ops, Now: func() time.Time { return testNow }, Secret: bytes.Repeat([]byte("s"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	h.srv = httptest.NewServer(http.StripPrefix("/portal", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.Serve(w, r, h.user, "/portal")
	})))
	t.Cleanup(h.srv.Close)
	return h
}

// do sends a request without following redirects.
func (h *harness) do(req *http.Request) (*http.Response, string) {
	h.t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (h *harness) get(path string) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/portal"+path, nil)
	return h.do(req)
}

// post sends a same-origin form, with a valid token unless form has a
// csrf field already.
func (h *harness) post(path string, form url.Values) (*http.Response, string) {
	if !form.Has("csrf") {
		form.Set("csrf", h.p.csrf.token(h.user, testNow))
	}
	return h.postAsIs(path, form)
}

// postAsIs sends a same-origin form as it is.
func (h *harness) postAsIs(path string, form url.Values) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/portal"+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", h.srv.URL)
	return h.do(req)
}

func TestRefusesWithoutAuthenticatedUser(t *testing.T) {
	h := newHarness(t)
	h.user = ""
	for _, path := range []string{"/integrations", "/audit", "/assets/portal.css"} {
		if resp, _ := h.get(path); resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s without a user: %d, want 403", path, resp.StatusCode)
		}
	}
	if resp, _ := h.post("/integrations", url.Values{"id": {"x"}, "base_url": {"http://127.0.0.1:1"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST without a user: %d, want 403", resp.StatusCode)
	}
	if len(h.ops.ins) != 0 {
		t.Errorf("a POST without a user added %v", h.ops.ins)
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t)
	resp, _ := h.get("/integrations")
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q allows unsafe sources", csp)
	}
	for name, want := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestChangesNeedCSRFTokenAndSameOrigin(t *testing.T) {
	h := newHarness(t)
	add := func(csrf string) url.Values {
		v := url.Values{"id": {"weather"}, "base_url": {"http://127.0.0.1:9001"}}
		if csrf != "none" {
			v.Set("csrf", csrf)
		}
		return v
	}
	other := h.p.csrf.token("mallory", testNow)
	stale := h.p.csrf.token("alice", testNow.Add(-csrfLifetime-time.Minute))
	for name, form := range map[string]url.Values{
		"no token": add("none"), "empty token": add(""), "another user's token": add(other),
		"expired token": add(stale), "garbage": add("123.abc"),
	} {
		if resp, _ := h.postAsIs("/integrations", form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, resp.StatusCode)
		}
	}
	// A forged cross-site POST with a valid token (as if leaked) is
	// refused by the origin check.
	form := add(h.p.csrf.token("alice", testNow))
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/portal/integrations", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "http://evil.example")
	if resp, _ := h.do(req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %d, want 403", resp.StatusCode)
	}
	if len(h.ops.ins) != 0 {
		t.Fatalf("a refused POST added %v", h.ops.ins)
	}
	big := add(h.p.csrf.token("alice", testNow))
	big.Set("padding", strings.Repeat("x", maxFormBytes))
	if resp, _ := h.postAsIs("/integrations", big); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a form over %d bytes: %d, want 413", maxFormBytes, resp.StatusCode)
	}
	resp, _ := h.post("/integrations", add(h.p.csrf.token("alice", testNow)))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/portal/integrations/weather?notice=integration-added" {
		t.Fatalf("a valid POST: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if len(h.ops.audit) != 1 || h.ops.audit[0].Actor != "alice" {
		t.Errorf("audit = %+v, want one entry by alice", h.ops.audit)
	}
}

func TestConnectShowsKeyOnce(t *testing.T) {
	h := newHarness(t)
	h.post("/integrations", url.Values{"id": {"weather"}, "base_url": {"http://127.0.0.1:9001"}})
	resp, body := h.post("/integrations/weather/connect", url.Values{"name": {"ci"}})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("connect: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	secret := regexp.MustCompile(`kg_[0-9A-Za-z]{40,}`).FindString(body)
	if _, err := keystore.ParseKey(keystore.DefaultPrefix, secret); err != nil {
		t.Fatalf("the result page shows no valid key (%v)", err)
	}
	if !strings.Contains(body, `curl -H &#34;Authorization: Bearer `+secret) {
		t.Errorf("no curl line with the key")
	}
	k := h.ops.keys[0]
	for _, path := range []string{"/integrations/weather", "/keys/" + k.ID, "/audit", "/keys/" + k.ID + "/revoke"} {
		if _, body := h.get(path); strings.Contains(body, secret) || strings.Contains(body, secret[3:12]) {
			t.Errorf("%s shows the key", path)
		}
	}
}

func TestFieldErrorsNextToTheirField(t *testing.T) {
	h := newHarness(t)
	resp, body := h.post("/integrations", url.Values{"id": {"weather"}, "base_url": {"ftp://x"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad base URL: %d", resp.StatusCode)
	}
	if !regexp.MustCompile(`id="add-base-url"[^>]*aria-invalid="true"`).MatchString(body) ||
		!strings.Contains(body, `<p class="field-error" id="add-base-url-error">invalid base URL`) {
		t.Errorf("the base URL's error is not next to its field:\n%s", body)
	}
	if !strings.Contains(body, `value="weather"`) {
		t.Errorf("the form lost what was typed")
	}
	h.post("/integrations", url.Values{"id": {"weather"}, "base_url": {"http://127.0.0.1:9001"}})
	resp, body = h.post("/integrations/weather/connect", url.Values{"name": {""}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="key-name-error">missing key name`) {
		t.Errorf("an empty key name: %d, error not beside the field", resp.StatusCode)
	}
}

func TestKeyActionsConfirmAndAudit(t *testing.T) {
	h := newHarness(t)
	h.post("/integrations", url.Values{"id": {"weather"}, "base_url": {"http://127.0.0.1:9001"}})
	h.post("/integrations/weather/connect", url.Values{"name": {"ci"}})
	k := h.ops.keys[0]
	// Without JavaScript, the button leads to a confirmation page that
	// changes nothing.
	resp, body := h.get("/keys/" + k.ID + "/revoke")
	if resp.StatusCode != 200 || !strings.Contains(body, `Revoke key &#34;ci&#34;`) || h.ops.keys[0].RevokedAt != nil {
		t.Fatalf("confirmation page: %d, revoked %v", resp.StatusCode, h.ops.keys[0].RevokedAt)
	}
	// The removal guard: active keys hold the integration.
	resp, body = h.post("/integrations/weather/remove", url.Values{})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "still has active keys") {
		t.Errorf("removing with an active key: %d", resp.StatusCode)
	}
	resp, _ = h.post("/keys/"+k.ID+"/revoke", url.Values{})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/portal/keys/"+k.ID+"?notice=key-revoked") {
		t.Fatalf("revoke: %d to %q", resp.StatusCode, loc)
	}
	_, body = h.get(strings.TrimPrefix(loc, "/portal"))
	if !strings.Contains(body, "Refused by 2/2 gateways in 3 ms") || !strings.Contains(body, "Key revoked.") {
		t.Errorf("the key page does not show the confirmed revocation")
	}
	if resp, _ := h.post("/integrations/weather/remove", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("removing with only a revoked key: %d", resp.StatusCode)
	}
	_, body = h.get("/audit?actor=alice&integration=weather")
	for _, action := range []string{"integration added", "key created", "key revoked", "integration removed"} {
		if !strings.Contains(body, "<td>"+action+"</td>") {
			t.Errorf("the audit page lacks %q", action)
		}
	}
}

func TestRotateNeedsGraceAndShowsTheNewKeyOnce(t *testing.T) {
	h := newHarness(t)
	h.post("/integrations", url.Values{"id": {"weather"}, "base_url": {"http://127.0.0.1:9001"}})
	h.post("/integrations/weather/connect", url.Values{"name": {"ci"}})
	k := h.ops.keys[0]
	resp, body := h.post("/keys/"+k.ID+"/rotate", url.Values{"grace": {""}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="grace-error">missing grace`) {
		t.Fatalf("rotate without grace: %d", resp.StatusCode)
	}
	resp, body = h.post("/keys/"+k.ID+"/rotate", url.Values{"grace": {"1h"}})
	if resp.StatusCode != 200 || !regexp.MustCompile(`value="kg_[0-9A-Za-z]{40,}"`).MatchString(body) {
		t.Fatalf("rotate: %d, no new key shown", resp.StatusCode)
	}
}

// TestConnectWithRotationAndExchangeOnly: Connect passes the rotation
// period and exchange-only on; a bad period is an error next to its field,
// with what was typed kept.
func TestConnectWithRotationAndExchangeOnly(t *testing.T) {
	h := newHarness(t)
	h.post("/integrations", url.Values{"id": {"weather"}, "base_url": {"http://127.0.0.1:9001"}})
	resp, body := h.post("/integrations/weather/connect", url.Values{"name": {"ci"}, "rotate_every": {"soon"}, "exchange_only": {"on"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `id="key-rotate-error"`) || !strings.Contains(body, `value="soon"`) ||
		!regexp.MustCompile(`id="key-exchange-only"[^>]* checked`).MatchString(body) || len(h.ops.keys) != 0 {
		t.Fatalf("a bad rotation period: %d; want 400 with the error by the field, the form as typed, no key", resp.StatusCode)
	}
	resp, body = h.post("/integrations/weather/connect", url.Values{"name": {"ci"}, "rotate_every": {"30d"}, "exchange_only": {"on"}})
	if resp.StatusCode != http.StatusOK || len(h.ops.keys) != 1 || !h.ops.keys[0].ExchangeOnly || h.ops.keys[0].RotateEvery != 30*24*time.Hour {
		t.Fatalf("connect with a period and exchange-only: %d, keys %+v", resp.StatusCode, h.ops.keys)
	}
	if strings.Contains(body, `id="curl"`) || !strings.Contains(body, "This key is exchange-only") {
		t.Error("the new exchange-only key's page offers a curl line, or does not say it is exchange-only")
	}
}

// TestKeyPageShowsRotationAndExchangeOnly: the integration page shows its
// rotation period and grace; the key page says when the key is due to be
// rolled (or that it has no period) and whether it is exchange-only; rotating an exchange-only key shows no curl line, which
// the edge would refuse.
func TestKeyPageShowsRotationAndExchangeOnly(t *testing.T) {
	h := newHarness(t)
	h.post("/integrations", url.Values{"id": {"weather"}, "base_url": {"http://127.0.0.1:9001"}})
	h.post("/integrations/weather/connect", url.Values{"name": {"ci"}})
	if _, body := h.get("/integrations/weather"); !strings.Contains(body, "<dd>no default period</dd>") {
		t.Error("an integration without a rotation period: its page does not say so")
	}
	h.ops.ins[0].Rotation = keystore.Rotation{Every: 90 * 24 * time.Hour, Grace: 2 * time.Hour}
	if _, body := h.get("/integrations/weather"); !strings.Contains(body, "<dd>90d, unless a key has its own period</dd>") || !strings.Contains(body, "<dd>2h</dd>") {
		t.Error("an integration with a period of 90d and a grace of 2h: its page does not show them")
	}
	k := h.ops.keys[0]
	if _, body := h.get("/keys/" + k.ID); !strings.Contains(body, "<dd>no rotation period</dd>") || !strings.Contains(body, "<dd>sent as a Bearer key</dd>") {
		t.Errorf("a key without a period: the page lacks 'no rotation period' or 'sent as a Bearer key'")
	}
	due := testNow.Add(-time.Hour)
	h.ops.keys[0].RotateDueAt, h.ops.keys[0].ExchangeOnly = &due, true
	_, body := h.get("/keys/" + k.ID)
	if !strings.Contains(body, "<dd>2026-12-02 09:30:00 UTC (due now)</dd>") || !strings.Contains(body, "exchange-only: refused at the edge") {
		t.Errorf("an exchange-only key past its due time: the page does not say so")
	}
	_, body = h.post("/keys/"+k.ID+"/rotate", url.Values{"grace": {"1h"}})
	if strings.Contains(body, `id="curl"`) || !strings.Contains(body, "This key is exchange-only") {
		t.Errorf("rotating an exchange-only key: the page offers a curl line, or does not say the key is exchange-only")
	}
}

func TestIntegrationPagePaginates(t *testing.T) {
	h := newHarness(t)
	h.post("/integrations", url.Values{"id": {"weather"}, "base_url": {"http://127.0.0.1:9001"}})
	for i := range 2*keysPerPage + 7 {
		h.ops.keys = append(h.ops.keys, keystore.Key{ID: fmt.Sprintf("kid_%020d", i), Name: fmt.Sprintf("k%d", i), IntegrationID: "weather", CreatedAt: testNow})
	}
	rows := regexp.MustCompile(`<a href="/portal/keys/kid_`)
	for _, tc := range []struct {
		page       string
		rows       int
		prev, next bool
	}{{"", keysPerPage, false, true}, {"?page=2", keysPerPage, true, true}, {"?page=3", 7, true, false}} {
		_, body := h.get("/integrations/weather" + tc.page)
		if n := len(rows.FindAllString(body, -1)); n != tc.rows {
			t.Errorf("page %q: %d keys, want %d", tc.page, n, tc.rows)
		}
		if strings.Contains(body, `rel="prev"`) != tc.prev || strings.Contains(body, `rel="next"`) != tc.next {
			t.Errorf("page %q: prev/next links wrong", tc.page)
		}
	}
}

// TestNoInlineScriptOrStyle renders every page and checks that none has
// what the CSP would block: inline script, event handler attributes or
// style attributes.
func TestNoInlineScriptOrStyle(t *testing.T) {
	h := newHarness(t)
	h.post("/integrations", url.Values{"id": {"weather"}, "base_url": {"http://127.0.0.1:9001"}})
	_, shown := h.post("/integrations/weather/connect", url.Values{"name": {"ci"}})
	k := h.ops.keys[0]
	h.ops.usage[k.ID] = []keystore.UsageCount{{Start: testNow.Add(-time.Hour), Requests: 5}}
	bodies := map[string]string{"shown": shown}
	for _, path := range []string{"/integrations", "/integrations/weather", "/keys/" + k.ID, "/keys/" + k.ID + "/rotate",
		"/integrations/weather/remove", "/audit", "/nowhere"} {
		_, bodies[path] = h.get(path)
	}
	bad := regexp.MustCompile(`<script>|<script [^>]*>[^<]|\son[a-z]+=|\sstyle=|javascript:`)
	for path, body := range bodies {
		if m := bad.FindString(body); m != "" {
			t.Errorf("%s has %q, which the CSP blocks", path, m)
		}
		if !strings.Contains(body, `<script src="/portal/assets/portal.js" defer></script>`) {
			t.Errorf("%s does not load the script from the mount", path)
		}
	}
}

func TestAssets(t *testing.T) {
	h := newHarness(t)
	for path, typ := range map[string]string{"/assets/portal.css": "text/css", "/assets/portal.js": "text/javascript"} {
		resp, body := h.get(path)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), typ) || len(body) < 100 {
			t.Errorf("%s: %d %q, %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
	}
	if resp, _ := h.get("/assets/../portal.go"); resp.StatusCode == 200 {
		t.Errorf("an asset path outside assets/ was served")
	}
}
