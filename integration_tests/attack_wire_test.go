package integration_tests

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// wireRequest is a request as an attacker writes it, byte for byte: Go's
// http.Client would clean its target.
type wireRequest struct {
	// method defaults to GET.
	method string
	// target is the request target, sent as is: origin-form (/a/../b),
	// or absolute-form (http://host/path) over HTTP/1.1.
	target string
	// host is the Host header (HTTP/2's :authority); default the
	// gateway's address.
	host string
	// auth is the Authorization header's value; no header when empty.
	auth string
	// header holds more header lines, "Name: value".
	header []string
	// trailer holds trailer lines, "Name: value": the body is sent chunked
	// (HTTP/1.1) or streamed (HTTP/2), with the trailers after it.
	trailer []string
	// undeclared: no Trailer header names the trailers (HTTP/1.1).
	undeclared bool
}

// wireProtocols are the protocols the suite speaks to a plain-HTTP site.
var wireProtocols = map[string]func(t *testing.T, addr string, req wireRequest) response{
	"h1":  sendH1,
	"h2c": sendH2C,
}

// Neither sender shows the target in a failure: it may hold a key.

// sendH1 writes req on a new HTTP/1.1 connection to addr and reads the
// response.
func sendH1(t *testing.T, addr string, req wireRequest) response {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", orDefault(req.method, http.MethodGet), req.target, orDefault(req.host, addr))
	if req.auth != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", req.auth)
	}
	for _, line := range req.header {
		b.WriteString(line + "\r\n")
	}
	if req.trailer != nil {
		names := make([]string, len(req.trailer))
		for i, line := range req.trailer {
			names[i], _, _ = strings.Cut(line, ":")
		}
		if !req.undeclared {
			fmt.Fprintf(&b, "Trailer: %s\r\n", strings.Join(names, ", "))
		}
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n")
		for _, line := range req.trailer {
			b.WriteString(line + "\r\n")
		}
	}
	b.WriteString("\r\n")

	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connecting to %s: %v", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatalf("writing the request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("reading the response body: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// h2cClient speaks HTTP/2 with prior knowledge over cleartext TCP, and
// nothing else.
var h2cClient = func() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{Protocols: p},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}()

// sendH2C sends req over HTTP/2 with prior knowledge: its target goes in
// :path as is.
func sendH2C(t *testing.T, addr string, req wireRequest) response {
	t.Helper()
	var body io.Reader
	if req.trailer != nil {
		body = io.MultiReader(strings.NewReader("hello")) // unknown length: streamed
	}
	r, err := http.NewRequest(orDefault(req.method, http.MethodGet), "http://"+addr+"/", body)
	if err != nil {
		t.Fatalf("building the request: %v", err)
	}
	path, query, _ := strings.Cut(req.target, "?")
	r.URL.Opaque, r.URL.RawQuery = path, query
	r.Host = orDefault(req.host, addr)
	if req.auth != "" {
		r.Header["Authorization"] = []string{req.auth}
	}
	for _, line := range req.header {
		name, value, _ := strings.Cut(line, ":")
		r.Header.Add(name, strings.TrimSpace(value))
	}
	if req.trailer != nil {
		r.Trailer = http.Header{}
		for _, line := range req.trailer {
			name, value, _ := strings.Cut(line, ":")
			r.Trailer.Add(name, strings.TrimSpace(value))
		}
	}
	resp, err := h2cClient.Do(r)
	if ue, ok := err.(*url.Error); ok {
		err = ue.Err // without the URL
	}
	if err != nil {
		t.Fatalf("h2c request: %v", err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("h2c request: the answer came over %s", resp.Proto)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("reading the response body: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
