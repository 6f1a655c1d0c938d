package integration_tests

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// response is a gateway's answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// httpClient talks to the gateways; it never follows redirects.
var httpClient = &http.Client{
	Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// request sends method path (with query) to the gateway, with the key as
// a Bearer token unless it is empty, after edit (if any) has changed the
// request.
func (g *gateway) request(t *testing.T, method, path, key string, edit func(*http.Request)) response {
	t.Helper()
	req, err := http.NewRequest(method, g.URL+path, nil)
	if err != nil {
		t.Fatalf("building request %s %s: %v", method, path, err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if edit != nil {
		edit(req)
	}
	return roundTrip(t, req)
}

// roundTrip sends req with httpClient and reads the whole response.
func roundTrip(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL.Path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// get sends GET path with the key.
func (g *gateway) get(t *testing.T, path, key string) response {
	t.Helper()
	return g.request(t, http.MethodGet, path, key, nil)
}

// echoed decodes the upstream's echo from a proxied response, failing t
// unless the status is 200.
func (r response) echoed(t *testing.T) echoedRequest {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200 from the upstream (%d-byte body not shown: it may echo a key)", r.status, len(r.body))
	}
	var e echoedRequest
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("decoding the upstream's echo: %v", err)
	}
	return e
}

// errorBody decodes a refusal's JSON body and returns its error field.
func (r response) errorBody(t *testing.T) string {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Error == "" {
		t.Errorf("refusal body (%d bytes, not shown): want a JSON object with an error field (%v)", len(r.body), err)
	}
	return body.Error
}

// withBody returns a request edit that sends body.
func withBody(body string) func(*http.Request) {
	return func(req *http.Request) {
		req.Body = io.NopCloser(strings.NewReader(body))
		req.ContentLength = int64(len(body))
	}
}
