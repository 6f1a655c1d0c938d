package integration_tests

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// recordedRequest is one request as a recorder received it.
type recordedRequest struct {
	Method string
	// RequestURI is the request target exactly as it was on the wire.
	RequestURI string
	Host       string
	Header     http.Header
	// Trailer holds the request's trailers, read after its whole body.
	Trailer http.Header
}

// recorder is an upstream that records every request it receives, raw,
// and answers 200 with a body naming itself.
type recorder struct {
	*httptest.Server

	mu   sync.Mutex
	reqs []recordedRequest
}

// recorderBody is what a recorder answers: a response holding it came
// from the recorder.
const recorderBody = "recorded by the attack suite's upstream\n"

// newRecorder starts a recorder on 127.0.0.1, closed when t ends.
func newRecorder(t *testing.T) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(rec.record))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) record(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body) // the trailers come after the body
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, recordedRequest{
		Method: r.Method, RequestURI: r.RequestURI, Host: r.Host,
		Header: r.Header.Clone(), Trailer: r.Trailer.Clone(),
	})
	rec.mu.Unlock()
	_, _ = io.WriteString(w, recorderBody)
}

// count returns how many requests the recorder has received.
func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.reqs)
}

// since returns the requests received after the first n.
func (rec *recorder) since(n int) []recordedRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]recordedRequest(nil), rec.reqs[n:]...)
}

// hostPort returns the recorder's address, host:port.
func (rec *recorder) hostPort() string { return strings.TrimPrefix(rec.URL, "http://") }
