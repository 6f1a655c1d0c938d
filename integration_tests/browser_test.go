package integration_tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// browser is a headless Chromium tab driven over the DevTools protocol.
// It answers basic_auth challenges with its credentials, as a person
// typing them into the browser's login prompt would, accepts every
// JavaScript confirmation dialog, and records every HTTP response it
// receives (status, headers, body), so that a test can tell where a key
// appeared.
type browser struct {
	t   *testing.T
	ctx context.Context

	user, password string

	mu        sync.Mutex
	responses []recordedResponse
	dialogs   []string
}

// recordedResponse is one HTTP response the browser received.
type recordedResponse struct {
	URL     string
	Status  int64
	Headers string
	Body    string
}

// chromiumPath finds Debian's Chromium (or another Chrome). Without one the
// test skips, unless KEYGATE_TEST_REQUIRE_BROWSER is set, as .ci/run does,
// which installs Chromium.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("KEYGATE_TEST_REQUIRE_BROWSER") != "" {
		t.Fatal("no Chromium found on PATH, and KEYGATE_TEST_REQUIRE_BROWSER is set: apt-get install chromium")
	}
	t.Skip("no Chromium found on PATH (apt-get install chromium)")
	return ""
}

// browserTimeout bounds the whole of one test's browsing.
const browserTimeout = 3 * time.Minute

// newBrowser starts a headless Chromium for t, logging in as user with
// password wherever asked; javascript false turns scripts off.
func newBrowser(t *testing.T, user, password string, javascript bool) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // root, in CI
		chromedp.Flag("disable-gpu", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx, user: user, password: password}
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start the browser, open the tab
		t.Fatalf("starting Chromium: %v", err)
	}
	go b.answerAuth()
	go b.recordResponses()
	go b.acceptDialogs()
	yes := true
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{
			{URLPattern: "*", RequestStage: fetch.RequestStageRequest},
			{URLPattern: "*", RequestStage: fetch.RequestStageResponse},
		},
		HandleAuthRequests: &yes,
	}); err != nil {
		t.Fatalf("enabling interception: %v", err)
	}
	if !javascript {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatalf("turning JavaScript off: %v", err)
		}
	}
	return b
}

// answerAuth gives the browser's credentials to every challenge.
func (b *browser) answerAuth() {
	for ev, err := range chromedp.Events(b.ctx, fetch.AuthRequired) {
		if err != nil {
			return
		}
		_, _ = chromedp.Call(b.ctx, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{
			RequestID: ev.RequestID,
			AuthChallengeResponse: &fetch.AuthChallengeResponse{
				Response: fetch.AuthChallengeResponseResponseProvideCredentials, Username: b.user, Password: b.password,
			},
		})
	}
}

// recordResponses keeps every response, paused at the response stage,
// then lets it through.
func (b *browser) recordResponses() {
	for ev, err := range chromedp.Events(b.ctx, fetch.RequestPaused) {
		if err != nil {
			return
		}
		if ev.ResponseStatusCode == 0 && ev.ResponseErrorReason == "" { // the request stage
			_, _ = chromedp.Call(b.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			continue
		}
		r := recordedResponse{URL: ev.Request.URL, Status: ev.ResponseStatusCode}
		var hdr strings.Builder
		for _, h := range ev.ResponseHeaders {
			fmt.Fprintf(&hdr, "%s: %s\n", h.Name, h.Value)
		}
		r.Headers = hdr.String()
		if body, err := chromedp.Call(b.ctx, fetch.GetResponseBody, fetch.GetResponseBodyParams{RequestID: ev.RequestID}); err == nil {
			r.Body = string(body.Body)
		}
		b.mu.Lock()
		b.responses = append(b.responses, r)
		b.mu.Unlock()
		_, _ = chromedp.Call(b.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
	}
}

// acceptDialogs says OK to every confirm() and keeps its message.
func (b *browser) acceptDialogs() {
	for ev, err := range chromedp.Events(b.ctx, page.JavascriptDialogOpening) {
		if err != nil {
			return
		}
		b.mu.Lock()
		b.dialogs = append(b.dialogs, ev.Message)
		b.mu.Unlock()
		_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
	}
}

// do runs actions, bounded by browserTimeout, failing the test on error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	start := time.Now()
	err := chromedp.Do(ctx, actions...)
	if took := time.Since(start); took > 10*time.Second {
		b.t.Logf("%s took %v", what, took.Round(time.Millisecond))
	}
	if err != nil {
		b.t.Fatalf("%s: %v\npage:\n%s", what, err, b.text())
	}
}

// value returns the value of the input sel.
func (b *browser) value(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("reading %s: %v", sel, err)
	}
	return v
}

// text returns the text of the page, for failures and assertions.
func (b *browser) text() string {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// eval evaluates a JavaScript expression in the page (DevTools runs it
// even with the page's scripts off), awaiting it if it is a promise.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return s
}

// recorded returns the responses received so far.
func (b *browser) recorded() []recordedResponse {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]recordedResponse(nil), b.responses...)
}

// confirmed returns the messages of the dialogs accepted so far.
func (b *browser) confirmed() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dialogs...)
}

// screenshot saves the page as dir/name.png when KEYGATE_SCREENSHOTS
// names a directory (make screenshots).
func (b *browser) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("KEYGATE_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
