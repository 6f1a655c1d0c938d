package keystore

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestRedactKeys(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "",
		"/plain":                      "/plain",
		"/kg_admin":                   "/kg_admin",
		"/v1/customers/42?sort=name":  "/v1/customers/42?sort=name",
		"/a/kg_0123456789abcdefXYZ/b": "/a/kg_REDACTED/b",
		"kg_0123456789abcdef kg_0123456789abcdef": "kg_REDACTED kg_REDACTED",
		"kgkg_0123456789abcdef":                   "kgkg_REDACTED",
		"/x/%30123456789abcdef%46":                "/x/REDACTED",
		"/x/%2530123456789abcdef":                 "/x/REDACTED",
		"/%zz/100%":                               "/%zz/100%",
	} {
		if got := RedactKeys(in, "kg"); got != want {
			t.Errorf("RedactKeys(%q) = %q, want %q", in, got, want)
		}
	}
	long := "/" + strings.Repeat("a/", RedactMaxLen)
	if got := RedactKeys(long, "kg"); len(got) > RedactMaxLen+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("a %d-byte URI came back with %d bytes", len(long), len(got))
	}
}

func TestRedactKeysLeavesOrdinaryURIsAlone(t *testing.T) {
	uri := "/v1/things/42?x=1&sort=-created_at"
	if n := testing.AllocsPerRun(100, func() { RedactKeys(uri, "kg") }); n != 0 {
		t.Errorf("RedactKeys of an ordinary URI allocates %v times", n)
	}
}

// percentAll encodes every byte of s as %XX.
func percentAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

func TestRedactKeysInAnyEncoding(t *testing.T) {
	key, _, err := GenerateKey(nil, DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	secret := key[3:]
	cases := map[string]string{
		"kg%5F":           "/x?k=kg%5F" + secret,
		"%6B%67_":         "/x/%6B%67_" + secret,
		"all encoded":     "/x/" + percentAll(key),
		"double encoded":  "/x/" + strings.ReplaceAll(percentAll(key), "%", "%25"),
		"mixed":           "/x/" + percentAll(secret[:5]) + secret[5:30] + strings.ReplaceAll(percentAll(secret[30:]), "%", "%25"),
		"bare":            "/x/" + secret,
		"split /":         "/x/" + secret[:10] + "/" + secret[10:20] + "/" + secret[20:30] + "/" + secret[30:40] + "/" + secret[40:],
		"split params":    "/x?a=kg_" + secret[:12] + "&b=" + secret[12:24] + "&c=" + secret[24:36] + "&d=" + secret[36:],
		"split encoded /": "/x/" + secret[:7] + "%2F" + percentAll(secret[7:14]) + "%252F" + secret[14:],
	}
	for name, uri := range cases {
		got := RedactKeys(uri, DefaultPrefix)
		if leak := leakedPiece(got, secret, 8); leak != "" {
			t.Errorf("%s: %q still holds a piece of the secret", name, got)
		}
	}
}

// decodeAll percent-decodes s until nothing changes.
func decodeAll(s string) string {
	b := []byte(s)
	for {
		out := make([]byte, 0, len(b))
		changed := false
		for i := 0; i < len(b); i++ {
			if b[i] == '%' && i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]) {
				out = append(out, unhex(b[i+1])<<4|unhex(b[i+2]))
				i += 2
				changed = true
				continue
			}
			out = append(out, b[i])
		}
		if !changed {
			return string(out)
		}
		b = out
	}
}

// leakedPiece returns a piece of n characters of secret that survives in
// redacted, decoded, with the markers and query parameter names removed
// and the separators skipped; "" if none does.
func leakedPiece(redacted, secret string, n int) string {
	d := strings.ReplaceAll(decodeAll(redacted), RedactedKey, "/")
	var stream bytes.Buffer
	for i := 0; i < len(d); {
		j := i
		for j < len(d) && isBase62[d[j]] {
			j++
		}
		if j > i && !(j < len(d) && d[j] == '=') {
			stream.WriteString(d[i:j])
		}
		if j == i {
			j++
		}
		i = j
	}
	for i := 0; i+n <= len(secret); i++ {
		if bytes.Contains(stream.Bytes(), []byte(secret[i:i+n])) {
			return secret[i : i+n]
		}
	}
	return ""
}
