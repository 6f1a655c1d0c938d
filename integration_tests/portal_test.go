package integration_tests

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/keygate/keygate/internal/poll"
)

// portalUser and portalPassword log in to the test portal.
const portalUser, portalPassword = "admin", "correct horse battery staple"

// portalCaddyfile is a gateway with README's portal snippet, a portal
// route with no authentication in front (which must refuse), and the
// generic keygate route.
var portalCaddyfile = template.Must(template.New("Caddyfile").Parse(`{
	admin 127.0.0.1:{{.AdminPort}}
	persist_config off
	auto_https off
	default_bind 127.0.0.1
	log {
		output file "{{.LogPath}}"
		format json
		level DEBUG
	}
	keygate {
		database "{{.DatabaseURL}}"
		last_used_interval 100ms
	}
}

http://127.0.0.1:{{.Port}} {
{{.Snippet}}
	handle_path /unprotected/* {
		keygate_portal
	}
	handle {
		keygate
		reverse_proxy {
			dynamic keygate
		}
	}
}
`))

// readmePortalSnippet returns the Caddyfile lines of README's
// "Management portal" section: the first caddyfile block in it.
func readmePortalSnippet(t *testing.T) string {
	t.Helper()
	blocks := fencedBlocks(readmeSection(t, "## Management portal"), "caddyfile")
	if len(blocks) == 0 {
		t.Fatal(`README has no "## Management portal" section with a caddyfile block`)
	}
	return blocks[0] + "\n"
}

// startPortalGateway starts a gateway serving README's portal snippet,
// with the password hash made by `keygate hash-password`.
func startPortalGateway(t *testing.T, h *harness) *gateway {
	t.Helper()
	hash := strings.TrimSpace(h.mustCLI("hash-password", "--plaintext", portalPassword))
	h.env = append(h.env, "KEYGATE_PORTAL_HASH="+hash)
	snippet := readmePortalSnippet(t)
	return h.retryOnTakenPort("the portal gateway", func() (*gateway, error) {
		dir := t.TempDir()
		port, adminPort := freePort(t), freePort(t)
		g := &gateway{URL: fmt.Sprintf("http://127.0.0.1:%d", port), LogPath: filepath.Join(dir, "keygate.log"),
			AdminURL: fmt.Sprintf("http://127.0.0.1:%d", adminPort), h: h,
			stderrPath: filepath.Join(dir, "stderr.log"), exited: make(chan struct{})}
		var conf bytes.Buffer
		if err := portalCaddyfile.Execute(&conf, map[string]any{"AdminPort": adminPort, "Port": port,
			"LogPath": g.LogPath, "DatabaseURL": h.dbURL, "Snippet": snippet}); err != nil {
			return nil, err
		}
		confPath := filepath.Join(dir, "Caddyfile")
		if err := os.WriteFile(confPath, conf.Bytes(), 0o600); err != nil {
			return nil, err
		}
		cmd := exec.Command(keygateBin, "run", "--config", confPath, "--adapter", "caddyfile")
		cmd.Env = append(processEnv(t), h.env...)
		return g, g.launch(cmd)
	})
}

func TestPortalInBrowser(t *testing.T) {
	t.Run("javascript", func(t *testing.T) { portalFlow(t, true) })
	t.Run("no-javascript", func(t *testing.T) { portalFlow(t, false) })
}

// portalFlow is the whole flow a person goes through in the portal: log
// in, add an integration, Connect, copy the key, call the integration
// with it, revoke it, see it refused and the revocation in the audit trail.
func portalFlow(t *testing.T, javascript bool) {
	h := newHarness(t)
	up := newUpstream(t)
	gw := startPortalGateway(t, h)
	b := newBrowser(t, portalUser, portalPassword, javascript)
	if javascript {
		for _, name := range []string{"clipboard-read", "clipboard-write"} {
			if _, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
				Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: gw.URL,
			}); err != nil {
				t.Fatalf("granting %s: %v", name, err)
			}
		}
	}

	b.do("logging in and opening the portal",
		chromedp.Navigate(gw.URL+"/portal/"),
		chromedp.WaitVisible(chromedp.CSS("#add-id")))
	b.do("adding an integration",
		chromedp.SendKeys(chromedp.CSS("#add-id"), "weather"),
		chromedp.SendKeys(chromedp.CSS("#add-base-url"), up.URL+"/v1"),
		chromedp.Click(chromedp.CSS(`form[action="/portal/integrations"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#key-name")))
	if text := b.text(); !strings.Contains(text, "Integration added.") || !strings.Contains(text, up.URL+"/v1") {
		t.Fatalf("the integration page after adding:\n%s", text)
	}

	b.do("connecting",
		chromedp.SendKeys(chromedp.CSS("#key-name"), "billing-service"),
		chromedp.Click(chromedp.CSS(`form[action$="/connect"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#secret")))
	key := b.value("#secret")
	h.remember(key)
	if got := b.value("#base"); got != gw.URL {
		t.Errorf("the shown-once page gives the base URL %q, want the gateway's %q", got, gw.URL)
	}
	if javascript {
		b.do("copying", chromedp.Click(chromedp.CSS(`button[data-copy="secret"]`)))
		poll.Until(t, 10*time.Second, "the copy button to say it copied", func() (bool, string) {
			return strings.Contains(b.text(), "Copied to the clipboard."), "no \"Copied\" status on the page"
		})
		if copied := b.eval(`navigator.clipboard.readText()`); copied != key {
			t.Errorf("the clipboard holds %d characters, not the key", len(copied))
		}
	} else if !b.hidden(`button[data-copy="secret"]`) {
		t.Errorf("without JavaScript, the copy button shows, and would do nothing")
	}
	b.screenshot("portal-key-shown")

	resp := gw.get(t, "/hello", key)
	if resp.status != http.StatusOK || resp.echoed(t).Path != "/v1/hello" {
		t.Fatalf("calling the integration with the copied key: %d (body not shown: it may echo the key)", resp.status)
	}

	b.do("opening the key's page",
		chromedp.Click(chromedp.CSS("a.button")),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/revoke"] button`)))
	if javascript {
		b.do("revoking", chromedp.Click(chromedp.CSS(`form[action$="/revoke"] button`)),
			chromedp.WaitVisible(chromedp.CSS(".notice")))
		if d := b.confirmed(); len(d) != 1 || !strings.HasPrefix(d[0], "Revoke key billing-service?") {
			t.Errorf("confirmation dialogs: %q, want the revocation's", d)
		}
	} else {
		b.do("asking to revoke", chromedp.Click(chromedp.CSS(`form[action$="/revoke"] button`)),
			chromedp.WaitVisible(chromedp.CSS("#confirm-title")))
		if text := b.text(); !strings.Contains(text, `Revoke key "billing-service"`) {
			t.Fatalf("the confirmation page:\n%s", text)
		}
		b.do("confirming", chromedp.Click(chromedp.CSS(`form[action$="/revoke"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".notice")))
	}
	if text := b.text(); !strings.Contains(text, "Key revoked.") || !strings.Contains(text, "revoked") {
		t.Fatalf("the key page after revoking:\n%s", text)
	}
	// The revocation was confirmed by the one live gateway before the
	// page showed: it refuses the key now, with no waiting.
	if got := b.eval(`(document.querySelector("#revocation-result") || {textContent: ""}).textContent.trim()`); !regexp.MustCompile(`^Refused by 1/1 gateways in \d+ ms\.$`).MatchString(got) {
		t.Errorf("the key page shows the confirmation %q, want \"Refused by 1/1 gateways in N ms.\"", got)
	}
	if status := gw.get(t, "/hello", key).status; status != http.StatusUnauthorized {
		t.Errorf("the revoked key after a confirmed revocation: %d, want 401", status)
	}

	b.do("opening the gateways page",
		chromedp.Click(chromedp.CSS(`a[href="/portal/gateways"]`)),
		chromedp.WaitVisible(chromedp.CSS("#fleet-summary")))
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	rows := b.eval(`Array.from(document.querySelectorAll("table.gateways tbody tr"), r => Array.from(r.cells, c => c.textContent.trim()).join("|")).join("\n")`)
	if !regexp.MustCompile(`^[^|\n]+\|`+regexp.QuoteMeta(host)+`\|[^|\n]*\|live\|\d+\|0\|`).MatchString(rows) ||
		strings.Count(rows, "\n") != 0 || !strings.Contains(b.text(), "1 live of 1") {
		t.Errorf("the gateways page lists %q, want the running gateway on %s, live", rows, host)
	}

	b.do("filtering the audit trail",
		chromedp.Click(chromedp.CSS(`a[href="/portal/audit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#f-key")),
		chromedp.SendKeys(chromedp.CSS("#f-integration"), "weather"),
		chromedp.Click(chromedp.CSS(`form.filters button`)),
		// the filtered page: its input's value attribute, which typing
		// into the unfiltered page's input does not set
		chromedp.WaitVisible(chromedp.CSS(`#f-integration[value="weather"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.audit")))
	audit := b.text()
	for _, want := range []string{"key revoked", "key created", "integration added", portalUser} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit trail lacks %q:\n%s", want, audit)
		}
	}

	if javascript { // a second key, so that the screenshot shows both states
		b.do("connecting a second key", chromedp.Navigate(gw.URL+"/portal/integrations/weather"),
			chromedp.WaitVisible(chromedp.CSS("#key-name")),
			chromedp.SendKeys(chromedp.CSS("#key-name"), "mobile-app"),
			chromedp.SendKeys(chromedp.CSS("#key-rotate"), "30d"),
			chromedp.Click(chromedp.CSS("#key-exchange-only")),
			chromedp.Click(chromedp.CSS(`form[action$="/connect"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("#secret")))
		h.remember(b.value("#secret"))
		// The store has the key as the form asked: exchange-only, rolled
		// every 30 days.
		var listed []struct {
			Name         string `json:"name"`
			ExchangeOnly bool   `json:"exchange_only"`
			RotateEvery  string `json:"rotate_every"`
		}
		decodeJSON(t, h.mustCLI("keys", "list", "--integration", "weather", "--json"), &listed)
		if last := listed[len(listed)-1]; last.Name != "mobile-app" || !last.ExchangeOnly || last.RotateEvery != "30d" {
			t.Errorf("the key connected with exchange-only and 30d is listed as %+v", last)
		}
		b.do("opening the integration", chromedp.Navigate(gw.URL+"/portal/integrations/weather"),
			chromedp.WaitVisible(chromedp.CSS("#key-name")))
		b.screenshot("portal-integration")
	}

	// The key was in exactly one response: the Connect result, which no
	// cache keeps.
	var with []recordedResponse
	for _, r := range b.recorded() {
		if containsSecret(r.URL+r.Headers+r.Body, []string{key}) {
			with = append(with, r)
		}
	}
	if len(with) != 1 || !strings.HasSuffix(with[0].URL, "/portal/integrations/weather/connect") ||
		!strings.Contains(strings.ToLower(with[0].Headers), "cache-control: no-store") {
		urls := make([]string, len(with))
		for i, r := range with {
			urls[i] = r.URL
		}
		t.Errorf("the key was in %d responses (%q), want only the Connect result with no-store", len(with), urls)
	}
	if len(b.recorded()) < 10 {
		t.Errorf("only %d responses recorded: the recording missed some", len(b.recorded()))
	}
	// And in no log: the gateway's stop checks its log and stderr.
}

// basicAuth is the credentials of an Authorization: Basic header.
func basicAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// hidden reports whether the element sel is hidden.
func (b *browser) hidden(sel string) bool {
	b.t.Helper()
	return b.eval(fmt.Sprintf(`String(document.querySelector(%q).hidden)`, sel)) == "true"
}

// TestPortalRefusals: the portal serves nothing without an authenticated
// user, and refuses a forged cross-site POST.
func TestPortalRefusals(t *testing.T) {
	h := newHarness(t)
	gw := startPortalGateway(t, h)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path string, form url.Values, header map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, gw.URL+path, strings.NewReader(form.Encode()))
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		return resp.StatusCode, body.String()
	}
	basic := "Basic " + basicAuth(portalUser, portalPassword)

	if status, _ := send("GET", "/unprotected/integrations", nil, nil); status != http.StatusForbidden {
		t.Errorf("the portal with no authentication in front: %d, want 403", status)
	}
	if status, _ := send("GET", "/portal/integrations", nil, nil); status != http.StatusUnauthorized {
		t.Errorf("the portal without credentials: %d, want basic_auth's 401", status)
	}
	status, page := send("GET", "/portal/integrations", nil, map[string]string{"Authorization": basic})
	token := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindStringSubmatch(page)
	if status != http.StatusOK || token == nil {
		t.Fatalf("the integrations page: %d, token %v", status, token)
	}
	form := url.Values{"id": {"forged"}, "base_url": {"http://127.0.0.1:1"}, "csrf": {token[1]}}
	for name, header := range map[string]map[string]string{
		"cross-site, with the user's token": {"Authorization": basic, "Sec-Fetch-Site": "cross-site", "Origin": "http://attacker.example"},
		"other origin, no fetch metadata":   {"Authorization": basic, "Origin": "http://attacker.example"},
	} {
		if status, _ := send("POST", "/portal/integrations", form, header); status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, status)
		}
	}
	noToken := url.Values{"id": {"forged"}, "base_url": {"http://127.0.0.1:1"}}
	if status, _ := send("POST", "/portal/integrations", noToken, map[string]string{"Authorization": basic}); status != http.StatusForbidden {
		t.Errorf("a POST without a token: %d, want 403", status)
	}
	if out := h.mustCLI("integrations", "list"); strings.Contains(out, "forged") {
		t.Fatalf("a refused POST added an integration:\n%s", out)
	}
	// The same form from the portal's own origin goes through.
	same := map[string]string{"Authorization": basic, "Sec-Fetch-Site": "same-origin", "Origin": gw.URL}
	if status, _ := send("POST", "/portal/integrations", form, same); status != http.StatusSeeOther {
		t.Errorf("the same POST from the portal's origin: %d, want 303", status)
	}
	// The command line's changes are in the portal's audit trail too.
	h.addIntegration("from-the-cli", "http://127.0.0.1:9")
	status, page = send("GET", "/portal/audit?integration=from-the-cli", nil, map[string]string{"Authorization": basic})
	if status != http.StatusOK || !strings.Contains(page, "<td>integration added</td>") {
		t.Errorf("the audit page: %d, without the command line's change", status)
	}
}
