package token

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func tokenRequest(body string, hdr map[string]string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return r
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func TestParseRequestClientAuth(t *testing.T) {
	cases := map[string]struct {
		r    *http.Request
		want Client
	}{
		"basic": {tokenRequest("grant_type=client_credentials", map[string]string{"Authorization": basic("kid_1", "kg_secret")}),
			Client{ID: "kid_1", Secret: "kg_secret", Method: AuthBasic}},
		"basic, form-urlencoded per 2.3.1": {tokenRequest("grant_type=client_credentials", map[string]string{
			"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("kid%5F1:kg%5Fs%2Bx"))}),
			Client{ID: "kid_1", Secret: "kg_s+x", Method: AuthBasic}},
		"form": {tokenRequest("grant_type=client_credentials&client_id=kid_1&client_secret=kg_secret", nil),
			Client{ID: "kid_1", Secret: "kg_secret", Method: AuthPost}},
		"bearer": {tokenRequest("grant_type=client_credentials", map[string]string{"Authorization": "Bearer kg_secret"}),
			Client{Secret: "kg_secret", Method: AuthBearer}},
	}
	for name, tc := range cases {
		got, e := ParseRequest(tc.r)
		if e != nil || got != tc.want {
			t.Errorf("%s: ParseRequest = %+v, %v; want %+v", name, got, e, tc.want)
		}
	}
}

func TestParseRequestErrors(t *testing.T) {
	withMethod := func(m string) *http.Request {
		r := tokenRequest("grant_type=client_credentials", map[string]string{"Authorization": basic("a", "b")})
		r.Method = m
		return r
	}
	withType := func(ct string) *http.Request {
		r := tokenRequest("grant_type=client_credentials", map[string]string{"Authorization": basic("a", "b")})
		r.Header.Set("Content-Type", ct)
		return r
	}
	inURL := tokenRequest("grant_type=client_credentials", nil)
	inURL.URL.RawQuery = "client_id=a&client_secret=b"
	auth := map[string]string{"Authorization": basic("a", "b")}
	cases := map[string]struct {
		r      *http.Request
		status int
		code   string
	}{
		"GET":                  {withMethod(http.MethodGet), 405, "invalid_request"},
		"JSON body":            {withType("application/json"), 400, "invalid_request"},
		"no grant_type":        {tokenRequest("", auth), 400, "invalid_request"},
		"password grant":       {tokenRequest("grant_type=password", auth), 400, "unsupported_grant_type"},
		"repeated grant_type":  {tokenRequest("grant_type=client_credentials&grant_type=client_credentials", auth), 400, "invalid_request"},
		"secret in the URL":    {inURL, 400, "invalid_request"},
		"no client auth":       {tokenRequest("grant_type=client_credentials", nil), 401, "invalid_client"},
		"two methods":          {tokenRequest("grant_type=client_credentials&client_id=a&client_secret=b", auth), 400, "invalid_request"},
		"form without id":      {tokenRequest("grant_type=client_credentials&client_secret=b", nil), 401, "invalid_client"},
		"bad base64":           {tokenRequest("grant_type=client_credentials", map[string]string{"Authorization": "Basic !!!"}), 401, "invalid_client"},
		"no colon":             {tokenRequest("grant_type=client_credentials", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("ab"))}), 401, "invalid_client"},
		"Digest":               {tokenRequest("grant_type=client_credentials", map[string]string{"Authorization": "Digest x"}), 401, "invalid_client"},
		"form id differs":      {tokenRequest("grant_type=client_credentials&client_id=other", auth), 400, "invalid_request"},
		"body too large":       {tokenRequest("grant_type=client_credentials&x="+strings.Repeat("a", MaxRequestBytes), auth), 400, "invalid_request"},
		"bad percent-encoding": {tokenRequest("grant_type=client_credentials&x=%zz", auth), 400, "invalid_request"},
		"empty Bearer":         {tokenRequest("grant_type=client_credentials", map[string]string{"Authorization": "Bearer "}), 401, "invalid_client"},
	}
	for name, tc := range cases {
		_, e := ParseRequest(tc.r)
		if e == nil || e.Status != tc.status || e.Code != tc.code {
			t.Errorf("%s: error = %v, want %d %s", name, e, tc.status, tc.code)
			continue
		}
		w := httptest.NewRecorder()
		WriteError(w, e)
		var body map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"] != tc.code {
			t.Errorf("%s: body %q", name, w.Body.String())
		}
		if w.Code != tc.status || w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Pragma") != "no-cache" {
			t.Errorf("%s: answered %d with headers %v", name, w.Code, w.Header())
		}
		if tc.status == 401 && w.Header().Get("WWW-Authenticate") != `Basic realm="keygate"` {
			t.Errorf("%s: WWW-Authenticate = %q", name, w.Header().Get("WWW-Authenticate"))
		}
	}
}

// TestStandardClient: golang.org/x/oauth2's client credentials flow,
// unchanged, in each of its ways to send the client's credentials, gets a
// token that the ring verifies.
func TestStandardClient(t *testing.T) {
	clk := &clock{t: time.Now()}
	r := newTestRing(t, newMemKeys(), clk, 1)
	const id, secret = "kid_abc", "kg_Secret123"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		c, e := ParseRequest(req)
		if e == nil && (c.Secret != secret || (c.ID != "" && c.ID != id)) {
			e = ErrInvalidClient
		}
		if e != nil {
			WriteError(w, e)
			return
		}
		raw, claims, err := r.Mint(id, "billing", 15*time.Minute)
		if err != nil {
			t.Error(err)
			return
		}
		WriteToken(w, raw, claims.ExpiresAt(), clk.Now())
	}))
	defer srv.Close()
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleAutoDetect, oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: srv.URL, AuthStyle: style}
		tok, err := cfg.Token(context.Background())
		if err != nil {
			t.Fatalf("style %d: %v", style, err)
		}
		if tok.TokenType != "Bearer" || time.Until(tok.Expiry) < 14*time.Minute {
			t.Fatalf("style %d: token type %q, expiry %v", style, tok.TokenType, tok.Expiry)
		}
		if c, err := r.Verify(context.Background(), tok.AccessToken); err != nil || c.KeyID() != id {
			t.Fatalf("style %d: token verifies as %+v, %v", style, c, err)
		}
	}
	bad := clientcredentials.Config{ClientID: id, ClientSecret: "kg_wrong", TokenURL: srv.URL}
	_, err := bad.Token(context.Background())
	var re *oauth2.RetrieveError
	if !asRetrieveError(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
		t.Fatalf("wrong secret: %v", err)
	}
}
