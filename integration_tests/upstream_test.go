package integration_tests

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
)

// echoedRequest is what the upstream received, as it answers it.
type echoedRequest struct {
	Method   string      `json:"method"`
	Host     string      `json:"host"`
	Path     string      `json:"path"`
	RawQuery string      `json:"raw_query"`
	Header   http.Header `json:"header"`
	Body     string      `json:"body"`
}

// upstream is an integration: an HTTP server on 127.0.0.1 that answers
// every request with the request it received, as JSON.
type upstream struct {
	*httptest.Server
	hits atomic.Int64
}

// newUpstream starts an echoing upstream, closed when t ends.
func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(u.echo))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) echo(w http.ResponseWriter, r *http.Request) {
	u.hits.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(echoedRequest{
		Method:   r.Method,
		Host:     r.Host,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Header:   r.Header,
		Body:     string(body),
	})
}

// hostPort returns the upstream's address, host:port.
func (u *upstream) hostPort(t *testing.T) string {
	t.Helper()
	parsed, err := url.Parse(u.URL)
	if err != nil {
		t.Fatalf("parsing upstream URL: %v", err)
	}
	return parsed.Host
}
