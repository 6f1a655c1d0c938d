package keystore

import (
	"net/url"
	"path"
	"strings"
	"testing"
)

func TestAmbiguousPath(t *testing.T) {
	tests := []struct {
		name      string
		path      string
		ambiguous bool
	}{
		{name: "root", path: "/"},
		{name: "empty", path: ""},
		{name: "plain", path: "/v1/orders/42"},
		{name: "dots inside a segment", path: "/a..b/.well-known/x."},
		{name: "three dots", path: "/.../x"},
		{name: "escaped space", path: "/a%20b"},
		{name: "escaped percent of a letter", path: "/a%2541"},
		{name: "lone percent", path: "/100%"},
		{name: "invalid escape", path: "/%zz/%2"},
		{name: "query-like escape", path: "/a%3Fb"},
		{name: "unicode", path: "/caf%C3%A9"},
		{name: "inner empty segment", path: "/a//b"},
		{name: "raw dotdot", path: "/../d/x", ambiguous: true},
		{name: "leading empty segment", path: "//evil.example/x", ambiguous: true},
		{name: "leading empty segment encoded", path: "/%2fevil.example/x", ambiguous: true},
		{name: "raw dot", path: "/./x", ambiguous: true},
		{name: "trailing dotdot", path: "/a/..", ambiguous: true},
		{name: "dotdot without slash", path: "..", ambiguous: true},
		{name: "encoded dotdot", path: "/%2e%2e/d", ambiguous: true},
		{name: "encoded dotdot upper", path: "/%2E%2E/d", ambiguous: true},
		{name: "half encoded dotdot", path: "/.%2e/d", ambiguous: true},
		{name: "double encoded dotdot", path: "/%252e%252e/d", ambiguous: true},
		{name: "triple encoded dotdot", path: "/%25252e%25252e/d", ambiguous: true},
		{name: "mixed encodings", path: "/%2e%252e/d", ambiguous: true},
		{name: "dotdot with parameter", path: "/..;/d", ambiguous: true},
		{name: "encoded dotdot with parameter", path: "/%2e%2e;x/d", ambiguous: true},
		{name: "encoded slash", path: "/a%2fb", ambiguous: true},
		{name: "encoded slash upper", path: "/a%2Fb", ambiguous: true},
		{name: "dotdot encoded slash", path: "/..%2fd", ambiguous: true},
		{name: "double encoded slash", path: "/a%252fb", ambiguous: true},
		{name: "encoded backslash", path: "/a%5cb", ambiguous: true},
		{name: "double encoded backslash", path: "/a%255Cb", ambiguous: true},
		{name: "raw backslash", path: "/a\\..\\b", ambiguous: true},
		{name: "NUL", path: "/a\x00b", ambiguous: true},
		{name: "encoded NUL", path: "/a%00b", ambiguous: true},
		{name: "double encoded NUL", path: "/a%2500b", ambiguous: true},
		{name: "tab", path: "/a\tb", ambiguous: true},
		{name: "DEL", path: "/a\x7fb", ambiguous: true},
		{name: "encoded newline", path: "/a%0d%0aHost:x", ambiguous: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AmbiguousPath(tt.path); got != tt.ambiguous {
				t.Errorf("AmbiguousPath(%q) = %v, want %v", tt.path, got, tt.ambiguous)
			}
		})
	}
}

func TestAmbiguousPathDoesNotAllocate(t *testing.T) {
	for _, p := range []string{"/", "/v1/orders/42", "/a..b/c.d/e"} {
		if n := testing.AllocsPerRun(100, func() { AmbiguousPath(p) }); n != 0 {
			t.Errorf("AmbiguousPath(%q) allocates %v times, want 0", p, n)
		}
	}
}

func TestParseBaseURLRefusesUnsafe(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{name: "port 0", url: "http://x:0/", want: "port must be between 1 and 65535"},
		{name: "port too big", url: "http://x:99999", want: "port must be between 1 and 65535"},
		{name: "port 65536", url: "http://x:65536", want: "port must be between 1 and 65535"},
		{name: "empty port", url: "http://x:/v1", want: "empty port"},
		{name: "dotdot", url: "http://x/v1/../admin", want: "dot-segments"},
		{name: "trailing dotdot", url: "http://x/v1/..", want: "dot-segments"},
		{name: "dot", url: "http://x/./v1", want: "dot-segments"},
		{name: "encoded dotdot", url: "http://x/v1/%2e%2e/admin", want: "dot-segments"},
		{name: "double encoded dotdot", url: "http://x/v1/%252e%252e/admin", want: "dot-segments"},
		{name: "encoded slash", url: "http://x/a%2Fb", want: "encoded slashes"},
		{name: "userinfo", url: "http://u@x/", want: "credentials"},
		{name: "query", url: "http://x/?a", want: "query"},
		{name: "fragment", url: "http://x/#a", want: "fragment"},
		{name: "scheme", url: "gopher://x/", want: "scheme must be http or https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBaseURL(tt.url)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseBaseURL(%q) = %v, want an error saying %q", tt.url, err, tt.want)
			}
		})
	}
	for _, ok := range []string{"http://x:1", "http://x:65535/v1", "https://x/a..b/.well-known"} {
		if _, err := ParseBaseURL(ok); err != nil {
			t.Errorf("ParseBaseURL(%q): %v, want it accepted", ok, err)
		}
	}
}

// FuzzParseBaseURL checks that a base URL ParseBaseURL accepts is an http
// or https URL with a host, a port in range, no credentials, query or
// fragment, and a path that no decoding can lead out of: and that parsing
// what it returns gives the same URL again.
func FuzzParseBaseURL(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseBaseURL(raw)
		if err != nil {
			return
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" || u.User != nil ||
			u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("ParseBaseURL(%q) accepted %#v", raw, u)
		}
		if AmbiguousPath(u.EscapedPath()) || strings.HasSuffix(u.Path, "/") {
			t.Fatalf("ParseBaseURL(%q) accepted the path %q", raw, u.EscapedPath())
		}
		if u.Path != "" && path.Clean(u.Path) != collapseSlashes(u.Path) {
			t.Fatalf("ParseBaseURL(%q) accepted the path %q, which cleans to %q", raw, u.Path, path.Clean(u.Path))
		}
		again, err := ParseBaseURL(u.String())
		if err != nil || again.String() != u.String() {
			t.Fatalf("ParseBaseURL(%q) = %q, which parses again to %v, %v", raw, u, again, err)
		}
		if _, err := url.Parse(u.String()); err != nil {
			t.Fatalf("ParseBaseURL(%q) = %q, which url.Parse refuses: %v", raw, u, err)
		}
	})
}

// collapseSlashes replaces every run of slashes in p with one.
func collapseSlashes(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}
