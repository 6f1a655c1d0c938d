package keystore

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
)

// FuzzParseKey: ParseKey never panics, accepts exactly the well-formed
// keys (prefix, length, alphabet, checksum), and a key it accepts hashes
// to HashKey of itself.
func FuzzParseKey(f *testing.F) {
	key, _, err := GenerateKey(nil, DefaultPrefix)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{key, key[:len(key)-1], key + "x", "kg_", "", "kg_\xff", strings.ToUpper(key), "xx" + key[2:]} {
		f.Add(DefaultPrefix, s)
	}
	f.Fuzz(func(t *testing.T, prefix, s string) {
		if !ValidPrefix(prefix) {
			return
		}
		h, err := ParseKey(prefix, s)
		if err != nil {
			return
		}
		body := len(prefix) + 1 + secretLen
		if len(s) != body+checksumLen || !strings.HasPrefix(s, prefix+"_") {
			t.Fatalf("ParseKey accepted %q: wrong shape", s)
		}
		for i := len(prefix) + 1; i < len(s); i++ {
			if !isBase62[s[i]] {
				t.Fatalf("ParseKey accepted %q: byte %d is not base62", s, i)
			}
		}
		if sum := checksum(s[:body]); string(sum[:]) != s[body:] {
			t.Fatalf("ParseKey accepted %q: bad checksum", s)
		}
		if h != HashKey(s) {
			t.Fatalf("ParseKey(%q) hash differs from HashKey", s)
		}
	})
}

// FuzzRedactURI: whatever surrounds it, and however it is split (by
// separators that are not letters or digits, or by query parameters) and
// percent-encoded (per character: raw, %XX, %xx, %25XX), no piece of 8
// characters of a key's secret survives RedactKeys; and RedactKeys never
// panics on any text, nor returns more than RedactMaxLen bytes and "…".
func FuzzRedactURI(f *testing.F) {
	f.Add([]byte("seed"), []byte{49}, "/v1/", "?x=1")
	f.Add([]byte{1, 2, 3}, []byte{10, 0x21, 10, 0x42, 10, 0x63, 19, 0x04}, "/", "")
	f.Add([]byte{9}, []byte{1, 0xff, 2, 0x13, 3, 0x35, 43, 0x77}, "/x?k=", "&y=%2")
	f.Add([]byte{}, []byte{12, 0x50, 12, 0x51, 12, 0x52, 13, 0x53}, "/x?a=", "")
	f.Fuzz(func(t *testing.T, seed, layout []byte, before, after string) {
		if out := RedactKeys(before+after, DefaultPrefix); len(out) > RedactMaxLen+len("…") {
			t.Fatalf("RedactKeys returned %d bytes", len(out))
		}
		// Hashed: a secret that the text around it cannot hold by chance.
		random := sha256.Sum256(seed)
		key, _, err := GenerateKey(bytes.NewReader(random[:]), DefaultPrefix)
		if err != nil {
			t.Fatal(err)
		}
		secret := key[len(DefaultPrefix)+1:]
		uri := before + "/" + encodeKey(key, layout) + "/" + after
		if len(uri) > RedactMaxLen {
			return // cut: what is past the cut is not logged
		}
		got := RedactKeys(uri, DefaultPrefix)
		if leak := leakedPiece(got, secret, 8); leak != "" {
			t.Fatalf("RedactKeys(%q) = %q holds %q of the secret", uri, got, leak)
		}
	})
}

// separators split a key in FuzzRedactURI: none is a letter or digit but
// the query parameter names.
var separators = []string{"/", "-", ".", "~", "%2F", "%252F", "&p=", "?q=", ";", ","}

// encodeKey lays key out as layout says: pairs of (piece length, how),
// where how's low bits pick each piece's encoding and its high bits the
// separator after it. With layout used up, the rest is one raw piece.
func encodeKey(key string, layout []byte) string {
	var b strings.Builder
	rest := key
	for i := 0; len(rest) > 0; i += 2 {
		n, how := len(rest), byte(0)
		if i+1 < len(layout) {
			n, how = min(len(rest), int(layout[i])%49+1), layout[i+1]
		}
		piece := rest[:n]
		rest = rest[n:]
		for j := 0; j < len(piece); j++ {
			switch how & 3 {
			case 0:
				b.WriteByte(piece[j])
			case 1:
				b.WriteString(percentAll(piece[j : j+1]))
			case 2:
				b.WriteString(strings.ToLower(percentAll(piece[j : j+1])))
			case 3:
				b.WriteString("%25" + percentAll(piece[j : j+1])[1:])
			}
		}
		if len(rest) > 0 {
			b.WriteString(separators[int(how>>2)%len(separators)])
		}
	}
	return b.String()
}
