package integration_tests

import (
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
