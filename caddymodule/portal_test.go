package caddymodule

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/keystore/sqlite"
	"github.com/keygate/keygate/portal"
)

// TestPortalShowsFieldErrorsOfManage: manage's typed errors reach the
// portal's forms beside the field at fault, in the portal's words, with
// manage's status.
func TestPortalShowsFieldErrorsOfManage(t *testing.T) {
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "keygate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	p, err := portal.New(portal.Config{Ops: &portalOps{runtime: gateway.New(store, nil), audit: zap.NewNop()},
		Secret: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.Serve(w, r, "alice", "") }))
	t.Cleanup(srv.Close)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	token := func() string {
		resp, err := client.Get(srv.URL + "/integrations")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindStringSubmatch(string(b))[1]
	}()
	post := func(path string, form url.Values) (int, string) {
		t.Helper()
		form.Set("csrf", token)
		resp, err := client.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, _ := post("/integrations", url.Values{"id": {"weather"}, "base_url": {"http://127.0.0.1:9001"}}); status != http.StatusSeeOther {
		t.Fatalf("adding: %d", status)
	}
	for _, tc := range []struct {
		path       string
		form       url.Values
		status     int
		errorID    string
		errorStart string
	}{
		{"/integrations", url.Values{"id": {"weather"}, "base_url": {"http://127.0.0.1:9001"}}, 409, "", `integration &#34;weather&#34; already exists`},
		{"/integrations", url.Values{"id": {"Bad"}, "base_url": {"http://127.0.0.1:9001"}}, 400, "add-id-error", "invalid integration id"},
		{"/integrations", url.Values{"id": {"ok"}, "base_url": {"ftp://x"}}, 400, "add-base-url-error", "invalid base URL"},
		{"/integrations/weather/connect", url.Values{"name": {strings.Repeat("é", 201)}}, 400, "key-name-error", "invalid key name"},
		{"/integrations/weather/connect", url.Values{"name": {""}}, 400, "key-name-error", "missing key name"},
		{"/integrations/weather/connect", url.Values{"name": {"ci"}, "expires_in": {"soon"}}, 400, "key-expires-error", "invalid expiry"},
	} {
		status, body := post(tc.path, tc.form)
		want := `<p class="error" role="alert">` + tc.errorStart
		if tc.errorID != "" {
			want = `<p class="field-error" id="` + tc.errorID + `">` + tc.errorStart
		}
		if status != tc.status || !strings.Contains(body, want) {
			m := regexp.MustCompile(`<p class="(field-)?error"[^>]*>[^<]*`).FindString(body)
			t.Errorf("POST %s %v: %d %q, want %d and %q", tc.path, tc.form, status, m, tc.status, want)
		}
	}
}
