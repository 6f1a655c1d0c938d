package secretscan

import (
	"encoding/json"
	"regexp"
	"testing"
)

// parseErrors are every error ParseReport may give: fixed texts, so that
// none quotes a token.
var parseErrors = regexp.MustCompile(`^(malformed report: (want a JSON array of \{token, type, url, source\}|unterminated array|data after the array|match \d+: (invalid JSON|want an object of strings|field "[a-z]+" must be a string))|too many tokens in one report: at most \d+)$`)

// FuzzSecretScanningBody feeds ParseReport arbitrary bodies: it never
// panics, never returns more than its bound, errors only in its fixed
// words, and what it accepts survives a round trip through JSON.
func FuzzSecretScanningBody(f *testing.F) {
	f.Add([]byte(`[{"token":"kg_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm","type":"keygate_api_key","url":"https://github.com/o/r/blob/c/f","source":"content"}]`), 3)
	f.Add([]byte(`[]`), 1)
	f.Fuzz(func(t *testing.T, body []byte, max int) {
		if max <= 0 || max > 100 {
			max = 100
		}
		ms, err := ParseReport(body, max)
		if err != nil {
			if !parseErrors.MatchString(err.Error()) {
				t.Fatalf("unexpected error text: %q", err)
			}
			return
		}
		if len(ms) > max {
			t.Fatalf("%d matches, bound %d", len(ms), max)
		}
		again, err := json.Marshal(ms)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseReport(again, max)
		if err != nil || len(back) != len(ms) {
			t.Fatalf("round trip: %d matches, %v; want %d", len(back), err, len(ms))
		}
		for i := range ms {
			if back[i] != ms[i] {
				t.Fatalf("round trip changed match %d", i)
			}
		}
	})
}
