package integration_tests

import (
	"fmt"
	"strings"
	"testing"
)

// secretWindow is the length of the pieces of a key's secret part looked
// for in outputs: long enough never to occur by chance (62^12 > 2^71),
// short enough to catch a truncated or partly masked key.
const secretWindow = 12

// containsSecret reports whether text holds any of keys, or any
// secretWindow characters in a row of a key's part after its prefix.
func containsSecret(text string, keys []string) bool {
	for _, k := range keys {
		if strings.Contains(text, k) {
			return true
		}
		_, secret, _ := strings.Cut(k, "_")
		for i := 0; i+secretWindow <= len(secret); i++ {
			if strings.Contains(text, secret[i:i+secretWindow]) {
				return true
			}
		}
	}
	return false
}

// leaksDecoded says how text holds a key of h's, read as it is or
// percent-decoded up to three times; empty when it does not.
func leaksDecoded(h *harness, text string) string {
	for i := range 4 {
		if h.leaks(text) {
			if i == 0 {
				return "as is"
			}
			return fmt.Sprintf("once percent-decoded %d times", i)
		}
		text = percentDecode(text)
	}
	return ""
}

// percentDecode decodes every valid %XX in s, leaving anything else as it
// is.
func percentDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func TestContainsSecret(t *testing.T) {
	key := "kg_0123456789abcdefghijABCDEFGHIJ0123456789abcXYZ123"
	for _, text := range []string{
		key,
		"auth: " + key[:20] + "...",
		"masked ****" + key[len(key)-secretWindow:],
		`{"token":"` + key[10:30] + `"}`,
	} {
		if !containsSecret(text, []string{key}) {
			t.Errorf("containsSecret missed a leak in %q", text)
		}
	}
	for _, text := range []string{"", "kg_", "key_id kid_ZYXWVUTSRQzyxwvutsrq", key[3 : 3+secretWindow-1]} {
		if containsSecret(text, []string{key}) {
			t.Errorf("containsSecret(%q) = true, want false", text)
		}
	}
}
