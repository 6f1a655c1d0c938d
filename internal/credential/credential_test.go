package credential

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeGateway answers keygate_rotate and keygate_token for keys it
// issued, each due dueAfter after its creation on the test's clock.
type fakeGateway struct {
	mu      sync.Mutex
	keys    map[string]time.Time // key -> created
	ids     map[string]string
	n       int
	now     func() time.Time
	every   time.Duration
	posts   atomic.Int64
	tokens  atomic.Int64
	lastKey string
}

func newFakeGateway(now func() time.Time, every time.Duration) *fakeGateway {
	g := &fakeGateway{keys: map[string]time.Time{}, ids: map[string]string{}, now: now, every: every}
	g.lastKey = g.issue()
	return g
}

func (g *fakeGateway) issue() string {
	g.n++
	key := "kg_testkey" + strings.Repeat("x", g.n)
	g.keys[key], g.ids[key] = g.now(), "kid_"+strings.Repeat("0", g.n)
	return key
}

func (g *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	created, ok := g.keys[key]
	if !ok {
		w.WriteHeader(401)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_token"})
		return
	}
	switch {
	case r.URL.Path == "/token" && r.Method == http.MethodPost:
		g.tokens.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "kgt_" + g.ids[key] + "." + time.Now().String(), "token_type": "Bearer", "expires_in": 900})
	case r.Method == http.MethodGet:
		due := created.Add(g.every)
		_ = json.NewEncoder(w).Encode(Status{ID: g.ids[key], RotateDue: &due, Due: !g.now().Before(due)})
	case r.Method == http.MethodPost:
		g.posts.Add(1)
		next := g.issue()
		g.lastKey = next
		_ = json.NewEncoder(w).Encode(map[string]any{"id": g.ids[next], "key": next, "name": "ci", "integration": "billing"})
	}
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func setup(t *testing.T) (*fakeGateway, *testClock, Client, string) {
	t.Helper()
	clk := &testClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	g := newFakeGateway(clk.Now, 30*24*time.Hour)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "billing.key")
	if err := os.WriteFile(file, []byte(g.lastKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return g, clk, Client{URL: srv.URL + "/rotate", Now: clk.Now}, file
}

func TestRotateNoOpUntilDue(t *testing.T) {
	g, clk, c, file := setup(t)
	before, _ := os.Stat(file)
	clk.Add(29 * 24 * time.Hour)
	res, err := c.Rotate(context.Background(), file)
	if err != nil || res.Rotated || res.Due.IsZero() {
		t.Fatalf("Rotate before due = %+v, %v; want no rotation and the due time", res, err)
	}
	after, _ := os.Stat(file)
	if g.posts.Load() != 0 || !os.SameFile(before, after) {
		t.Fatal("the key was rolled or the file replaced before it was due")
	}
}

// TestRotateTwiceRollsOnce: two runs in a row, and two at once, roll the
// key once, and the file ends holding the new key with mode 0600.
func TestRotateTwiceRollsOnce(t *testing.T) {
	for _, concurrent := range []bool{false, true} {
		g, clk, c, file := setup(t)
		clk.Add(31 * 24 * time.Hour)
		var wg sync.WaitGroup
		results := make([]RotateResult, 2)
		for i := range results {
			run := func() {
				var err error
				if results[i], err = c.Rotate(context.Background(), file); err != nil {
					t.Error(err)
				}
			}
			if concurrent {
				wg.Go(run)
			} else {
				run()
			}
		}
		wg.Wait()
		if n := g.posts.Load(); n != 1 {
			t.Fatalf("concurrent=%v: %d rotations, want 1", concurrent, n)
		}
		if results[0].Rotated == results[1].Rotated {
			t.Fatalf("concurrent=%v: results %+v: want exactly one rotation", concurrent, results)
		}
		key, err := ReadKey(file)
		if err != nil || key != g.lastKey {
			t.Fatalf("concurrent=%v: file holds another key than the new one (%v)", concurrent, err)
		}
		if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
		}
		entries, _ := os.ReadDir(filepath.Dir(file))
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp-") {
				t.Fatalf("temporary file %s left behind", e.Name())
			}
		}
	}
}

func TestRotateRefusedKeepsFileAndKeySecret(t *testing.T) {
	_, _, c, file := setup(t)
	if err := os.WriteFile(file, []byte("kg_notakeythegatewayknows\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := c.Rotate(context.Background(), file)
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "notakey") {
		t.Fatalf("err = %v; want the 401, without the key", err)
	}
	if key, _ := ReadKey(file); key != "kg_notakeythegatewayknows" {
		t.Fatal("the key file changed")
	}
}

func TestReadKeyRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"empty": "  \n", "two lines": "kg_a\nkg_b\n"} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(p, []byte(content), 0o600)
		if _, err := ReadKey(p); err == nil || !strings.Contains(err.Error(), "alone on one line") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := ReadKey(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file read")
	}
}

func TestTokenCachedUntilNearExpiry(t *testing.T) {
	g, clk, c, file := setup(t)
	c.URL = strings.TrimSuffix(c.URL, "/rotate") + "/token"
	first, err := c.Token(context.Background(), file)
	if err != nil || !strings.HasPrefix(first, "kgt_") {
		t.Fatalf("Token = %q, %v", first, err)
	}
	clk.Add(10 * time.Minute) // of 15: more than a quarter left
	if again, err := c.Token(context.Background(), file); err != nil || again != first || g.tokens.Load() != 1 {
		t.Fatalf("second Token = %v; %d fetches; want the cached one", err, g.tokens.Load())
	}
	if fi, err := os.Stat(file + ".token"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token cache: %v, %v; want mode 0600", fi, err)
	}
	clk.Add(2 * time.Minute) // under a quarter left
	if _, err := c.Token(context.Background(), file); err != nil || g.tokens.Load() != 2 {
		t.Fatalf("near expiry: %v; %d fetches, want a new token", err, g.tokens.Load())
	}
	// A rolled key does not reuse its predecessor's token.
	g.mu.Lock()
	next := g.issue()
	g.mu.Unlock()
	if err := WriteFileAtomic(file, []byte(next+"\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Token(context.Background(), file); err != nil || g.tokens.Load() != 3 {
		t.Fatalf("after the key changed: %v; %d fetches, want a new token", err, g.tokens.Load())
	}
}

// TestCheckURL: https anywhere, plain http only to loopback, nothing else.
func TestCheckURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://gw.example.com/keygate/rotate":    true,
		"http://127.0.0.1:8080/keygate/rotate":     true,
		"http://127.9.9.9/x":                       true,
		"http://[::1]:8080/oauth/token":            true,
		"http://localhost:8080/oauth/token":        true,
		"http://[::ffff:127.0.0.1]/x":              true,
		"http://gw.example.com/keygate/rotate":     false,
		"http://10.0.0.5/keygate/rotate":           false,
		"http://localhost.example.com/x":           false,
		"ftp://gw.example.com/x":                   false,
		"https:///x":                               false,
		"gw.example.com/keygate/rotate":            false,
		"https://kid_x:kg_secret@gw.example.com/x": false,
	} {
		if err := CheckURL(raw); (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v, want ok %v", raw, err, ok)
		}
	}
}

// TestRedirectIsNotFollowed: an endpoint that redirects elsewhere gets an
// error that says so, and the key never reaches where it points.
func TestRedirectIsNotFollowed(t *testing.T) {
	var reached atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			reached.Add(1)
		}
	}))
	t.Cleanup(elsewhere.Close)
	redirector := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/rotate", http.StatusTemporaryRedirect))
	t.Cleanup(redirector.Close)
	_, _, c, file := setup(t)
	c.URL = redirector.URL + "/rotate"
	_, err := c.Rotate(context.Background(), file)
	if err == nil || !strings.Contains(err.Error(), "307") || !strings.Contains(err.Error(), "give the endpoint's own URL") {
		t.Fatalf("Rotate through a redirect: %v, want an error naming it", err)
	}
	if _, err := c.Token(context.Background(), file); err == nil {
		t.Fatal("Token through a redirect: no error")
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("the key reached the redirect's target %d times", n)
	}
}

// TestRotateRefusesAnotherAnswer: a 200 that is not keygate_rotate's (the
// URL names a route proxied to the integration) is an error, not "not due".
func TestRotateRefusesAnotherAnswer(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"method": r.Method, "path": r.URL.Path})
	}))
	t.Cleanup(other.Close)
	_, _, c, file := setup(t)
	c.URL = other.URL + "/keygate/rotate"
	before, _ := os.ReadFile(file)
	if _, err := c.Rotate(context.Background(), file); err == nil || !strings.Contains(err.Error(), "keygate_rotate route") {
		t.Fatalf("Rotate against another service: %v, want an error asking whether the URL is a keygate_rotate route", err)
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Fatal("the key file changed")
	}
}
