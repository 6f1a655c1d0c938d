package token

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzRing is a ring on a fixed clock and seed, so that the seed corpus in
// testdata/fuzz/FuzzTokenVerify holds tokens it signed, and the minted
// claims the only ones any input may be accepted with.
func fuzzRing(t testing.TB) (*Ring, map[Claims]bool, []string) {
	clk := &clock{t: t0}
	store := newMemKeys()
	r := newTestRing(t, store, clk, 1)
	kid, priv, pub := signer(t, r)
	minted := map[Claims]bool{}
	var seeds []string
	for _, name := range []string{"key1", "key2"} {
		raw, c, err := r.Mint(name, "billing", 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		minted[c] = true
		seeds = append(seeds, raw)
	}
	now := clk.Now()
	hdr := func(alg string) map[string]any { return map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid} }
	good := seeds[0]
	parts := strings.Split(good[len(Prefix):], ".")
	changed := validClaims(now)
	changed.Integration = "payroll"
	seeds = append(seeds,
		forge(t, hdr("none"), validClaims(now), func([]byte) []byte { return nil }),
		forge(t, hdr("HS256"), validClaims(now), hs256Signer(pub)),
		Prefix+parts[0]+"."+encoding.EncodeToString(mustJSON(t, changed))+"."+parts[2],
		forge(t, map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": kid + "x"}, validClaims(now), ed25519Signer(priv)),
	)
	return r, minted, seeds
}

// FuzzTokenVerify: no input panics the verifier, and none is accepted but
// with the claims of a token the ring minted (a forger holds no key).
func FuzzTokenVerify(f *testing.F) {
	r, minted, seeds := fuzzRing(f)
	for _, s := range seeds {
		f.Add(s)
	}
	// The ring's own key signs are also in the corpus: forging them is
	// not the fuzzer's job; changing them is.
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := r.Keys().Verify(raw, t0)
		if err == nil && !minted[c] {
			t.Fatalf("accepted a token with claims %+v that were never minted", c)
		}
	})
}

// TestWriteFuzzCorpus writes the seed corpus when KEYGATE_WRITE_CORPUS is
// set (go test -run TestWriteFuzzCorpus ./keystore/token), so that it
// follows the tokens' format; otherwise it checks that the files on disk
// still hold what the ring signs.
func TestWriteFuzzCorpus(t *testing.T) {
	_, _, seeds := fuzzRing(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzTokenVerify")
	for i, s := range seeds {
		path := filepath.Join(dir, "seed"+strconv.Itoa(i))
		want := "go test fuzz v1\nstring(" + strconv.Quote(s) + ")\n"
		if os.Getenv("KEYGATE_WRITE_CORPUS") != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Fatalf("%s is stale or missing (%v): rerun with KEYGATE_WRITE_CORPUS=1", path, err)
		}
	}
}
