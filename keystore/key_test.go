package keystore

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestGenerateKeyFormat(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		key, hash, err := GenerateKey(nil, DefaultPrefix)
		if err != nil {
			t.Fatal(err)
		}
		if len(key) != len("kg_")+secretLen+checksumLen || !strings.HasPrefix(key, "kg_") {
			t.Fatalf("key has length %d and prefix %q", len(key), key[:3])
		}
		if seen[key] {
			t.Fatal("GenerateKey returned the same key twice")
		}
		seen[key] = true
		got, err := ParseKey(DefaultPrefix, key)
		if err != nil {
			t.Fatalf("ParseKey of a generated key: %v", err)
		}
		if got != hash || got != HashKey(key) {
			t.Fatal("ParseKey and GenerateKey disagree on the hash")
		}
	}
}

func TestGenerateKeyIsDeterministicInItsRandomness(t *testing.T) {
	a, _, err := GenerateKey(bytes.NewReader(make([]byte, 32)), "kg")
	if err != nil {
		t.Fatal(err)
	}
	if want := "kg_" + strings.Repeat("0", secretLen); a[:len(want)] != want {
		t.Fatal("an all-zero random source must give an all-zero secret")
	}
	max := bytes.Repeat([]byte{0xff}, 32)
	b, _, err := GenerateKey(bytes.NewReader(max), "kg")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseKey("kg", b); err != nil {
		t.Fatalf("the largest secret must still fit %d characters: %v", secretLen, err)
	}
}

func TestGenerateKeyErrors(t *testing.T) {
	if _, _, err := GenerateKey(iotest.ErrReader(errors.New("boom")), "kg"); err == nil {
		t.Fatal("want an error when the random source fails")
	}
	for _, p := range []string{"", "KG", "k_g", "waytoolongprefix1", "kg-"} {
		if _, _, err := GenerateKey(nil, p); err == nil {
			t.Errorf("prefix %q: want an error", p)
		}
	}
}

func TestParseKeyRejects(t *testing.T) {
	good, _, err := GenerateKey(nil, "kg")
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) string {
		b := []byte(good)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := map[string]string{
		"empty":               "",
		"prefix only":         "kg_",
		"wrong prefix":        "xy" + good[2:],
		"other prefix length": "kgg" + good[2:],
		"missing separator":   "kg" + good[3:] + "0",
		"too short":           good[:len(good)-1],
		"too long":            good + "0",
		"bad alphabet":        good[:10] + "-" + good[11:],
		"non-ASCII":           good[:10] + "\xff" + good[11:],
		"NUL byte":            good[:10] + "\x00" + good[11:],
		"secret typo":         flip(5),
		"checksum typo":       flip(len(good) - 1),
		"whitespace":          " " + good[1:],
		"10KB":                strings.Repeat("k", 10<<10),
	}
	for name, in := range cases {
		if _, err := ParseKey("kg", in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
	if _, err := ParseKey("kg", good); err != nil {
		t.Fatalf("the untouched key must parse: %v", err)
	}
}

func TestParseKeyDoesNotAllocate(t *testing.T) {
	key, _, err := GenerateKey(nil, "kg")
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseKey("kg", key) }); n != 0 {
		t.Fatalf("ParseKey allocates %v times per call", n)
	}
}

func TestKeyID(t *testing.T) {
	id, err := NewKeyID(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ValidKeyID(id) {
		t.Fatalf("NewKeyID returned %q, which ValidKeyID rejects", id)
	}
	if _, err := ParseKey("kg", id); err == nil {
		t.Fatal("a key id must never parse as a key")
	}
	// A source of bytes that are all rejected must not loop forever into a
	// wrong id: it keeps reading until it has enough.
	src := bytes.NewReader(append(bytes.Repeat([]byte{255}, 64), bytes.Repeat([]byte{1}, 32)...))
	id, err = NewKeyID(src)
	if err != nil || id != KeyIDPrefix+strings.Repeat("1", keyIDLen) {
		t.Fatalf("got %q, %v", id, err)
	}
	if _, err := NewKeyID(bytes.NewReader(nil)); err == nil {
		t.Fatal("want an error when randomness runs out")
	}
}

func TestValidIntegrationID(t *testing.T) {
	for _, id := range []string{"github", "a", "stripe-v2", "my_crm", strings.Repeat("a", 63)} {
		if !ValidIntegrationID(id) {
			t.Errorf("%q should be valid", id)
		}
	}
	for _, id := range []string{"", "-x", "Upper", "a b", "a/b", strings.Repeat("a", 64), "é"} {
		if ValidIntegrationID(id) {
			t.Errorf("%q should be invalid", id)
		}
	}
}

func TestParseBaseURL(t *testing.T) {
	ok := map[string]string{
		"http://127.0.0.1:8080":       "http://127.0.0.1:8080",
		"https://api.example.com/v1/": "https://api.example.com/v1",
		"http://[::1]:9000/a/b":       "http://[::1]:9000/a/b",
	}
	for in, want := range ok {
		u, err := ParseBaseURL(in)
		if err != nil || u.String() != want {
			t.Errorf("%q: got %v, %v; want %q", in, u, err, want)
		}
	}
	for _, in := range []string{"", "127.0.0.1:80", "ftp://x", "http://", "http://u:p@x", "http://x/?a=1", "http://x/#f", "http://x/?", "::"} {
		if _, err := ParseBaseURL(in); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
}

func BenchmarkParseKey(b *testing.B) {
	key, _, _ := GenerateKey(nil, "kg")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = ParseKey("kg", key)
	}
}
