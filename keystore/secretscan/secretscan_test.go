package secretscan

import (
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore/secretscan/secretscantest"
)

// e is an entry of a public keys file.
func e(id, key string) secretscantest.Entry {
	return secretscantest.Entry{KeyIdentifier: id, Key: key, IsCurrent: true}
}

func TestVerify(t *testing.T) {
	gh := secretscantest.NewPartner(t, "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c", elliptic.P256())
	other := secretscantest.NewPartner(t, "other", elliptic.P256())
	keys, skipped, err := ParsePublicKeys(secretscantest.KeysJSON(t, e(gh.ID, gh.PEM(t)), e(other.ID, other.PEM(t))))
	if err != nil || len(skipped) != 0 {
		t.Fatalf("ParsePublicKeys: %v, skipped %q", err, skipped)
	}
	body := []byte(`[{"source":"commit","token":"some_token","type":"some_type","url":"https://example.com/base-repo-url/"}]`)
	good := gh.Sign(t, body)
	if err := keys.Verify(gh.ID, good, body); err != nil {
		t.Fatalf("a good signature: %v", err)
	}
	for _, tc := range []struct {
		name, keyID, sig string
		body             []byte
		want             error
	}{
		{"body changed by one byte", gh.ID, good, append([]byte(nil), append(body[:len(body)-1:len(body)-1], ' ')...), ErrBadSignature},
		{"body re-encoded", gh.ID, good, []byte(strings.ReplaceAll(string(body), ",", ", ")), ErrBadSignature},
		{"signed by another known key", gh.ID, other.Sign(t, body), body, ErrBadSignature},
		{"identifier of another key", other.ID, good, body, ErrBadSignature},
		{"unknown identifier", "f9525bf080f75b3506ca1ead061add62b8633a346606dc5fe544e29231c6ee0d", good, body, ErrUnknownKeyIdentifier},
		{"empty identifier", "", good, body, ErrUnknownKeyIdentifier},
		{"not base64", gh.ID, "not*base64!", body, ErrBadSignature},
		{"base64 of garbage", gh.ID, base64.StdEncoding.EncodeToString([]byte("garbage")), body, ErrBadSignature},
		{"empty signature", gh.ID, "", body, ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := keys.Verify(tc.keyID, tc.sig, tc.body); !errors.Is(err, tc.want) {
				t.Errorf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignedBy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers map[string]string
		want    string
		err     error
	}{
		{"github", map[string]string{"Github-Public-Key-Identifier": "a", "Github-Public-Key-Signature": "b"}, "github", nil},
		{"github in any case", map[string]string{"GITHUB-PUBLIC-KEY-IDENTIFIER": "a", "github-public-key-signature": "b"}, "github", nil},
		{"gitlab", map[string]string{"Gitlab-Public-Key-Identifier": "a", "Gitlab-Public-Key-Signature": "b"}, "gitlab", nil},
		{"none", map[string]string{"Authorization": "Bearer x"}, "", ErrMissingSignature},
		{"identifier only", map[string]string{"Github-Public-Key-Identifier": "a"}, "", ErrMissingSignature},
		{"signature only", map[string]string{"Gitlab-Public-Key-Signature": "b"}, "", ErrMissingSignature},
		{"both partners", map[string]string{"Github-Public-Key-Identifier": "a", "Github-Public-Key-Signature": "b", "Gitlab-Public-Key-Signature": "c"}, "", ErrAmbiguousSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.headers {
				h.Set(k, v)
			}
			p, err := SignedBy(h)
			if !errors.Is(err, tc.err) || p.Name != tc.want {
				t.Errorf("SignedBy = %q, %v; want %q, %v", p.Name, err, tc.want, tc.err)
			}
		})
	}
}

func TestParsePublicKeys(t *testing.T) {
	good := secretscantest.NewPartner(t, "good", elliptic.P256())
	p384 := secretscantest.NewPartner(t, "p384", elliptic.P384())
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keys, skipped, err := ParsePublicKeys(secretscantest.KeysJSON(t,
		e("p384", p384.PEM(t)),
		e("rsa", secretscantest.PEMPublicKey(t, &rsaKey.PublicKey)),
		e("", good.PEM(t)),
		e("garbage", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
		e("not pem", "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"),
		e("good", good.PEM(t)),
		e("good", p384.PEM(t)),
	))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys["good"] == nil || !keys["good"].Equal(&good.Priv.PublicKey) {
		t.Errorf("keys = %v, want only the P-256 key under \"good\"", keys)
	}
	if len(skipped) != 6 {
		t.Errorf("skipped %d entries, want 6: %q", len(skipped), skipped)
	}

	for name, data := range map[string]string{
		"no P-256 key":   string(secretscantest.KeysJSON(t, e("p384", p384.PEM(t)))),
		"empty list":     `{"public_keys": []}`,
		"not JSON":       `-----BEGIN PUBLIC KEY-----`,
		"another object": `{"keys": [{"kid": "x"}]}`,
		"an array":       `[]`,
	} {
		if _, _, err := ParsePublicKeys([]byte(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseReport(t *testing.T) {
	ms, err := ParseReport([]byte(`[{"token":"a","type":"t","url":"u","source":"content","extra":{"x":1}}, {"token":"b","type":"t"}]`), 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []Match{{Token: "a", Type: "t", URL: "u", Source: "content"}, {Token: "b", Type: "t"}}
	if len(ms) != 2 || ms[0] != want[0] || ms[1] != want[1] {
		t.Errorf("ParseReport = %+v, want %+v", ms, want)
	}
	if ms, err := ParseReport([]byte(" [ ]\n"), 2); err != nil || len(ms) != 0 {
		t.Errorf("an empty array: %v, %v", ms, err)
	}
	if _, err := ParseReport([]byte(`[{"token":"a"},{"token":"b"},{"token":"c"}]`), 2); !errors.Is(err, ErrTooManyTokens) {
		t.Errorf("three tokens, at most two: %v, want ErrTooManyTokens", err)
	}
	secret := "kg_SECRETPART0123456789"
	for name, body := range map[string]string{
		"empty":            ``,
		"an object":        `{"token":"` + secret + `"}`,
		"a number token":   `[{"token":12}]`,
		"a string element": `["` + secret + `"]`,
		"unterminated":     `[{"token":"` + secret + `"}`,
		"trailing data":    `[{"token":"a"}] [{"token":"` + secret + `"}]`,
		"broken string":    `[{"token":"` + secret + `\x"}]`,
	} {
		_, err := ParseReport([]byte(body), 10)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if strings.Contains(err.Error(), "SECRETPART") {
			t.Errorf("%s: the error quotes the token: %v", name, err)
		}
	}
}

func TestTokenHash(t *testing.T) {
	// sha256("abc"), the FIPS 180-2 test vector.
	if got := TokenHash("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("TokenHash(abc) = %s", got)
	}
}

func TestKeyFileReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	first := secretscantest.NewPartner(t, "first", elliptic.P256())
	second := secretscantest.NewPartner(t, "second", elliptic.P256())
	write := func(data []byte, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		// An explicit time: the test does not depend on the file system's
		// time resolution.
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	write(secretscantest.KeysJSON(t, e(first.ID, first.PEM(t))), t0)

	kf, _, err := OpenKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys, changed, _, err := kf.Keys()
	if err != nil || changed || keys["first"] == nil {
		t.Fatalf("unchanged file: keys %v, changed %v, %v", keys, changed, err)
	}

	// The partner rotates: the new key replaces the old one.
	write(secretscantest.KeysJSON(t, e(second.ID, second.PEM(t))), t0.Add(time.Hour))
	keys, changed, _, err = kf.Keys()
	if err != nil || !changed || keys["second"] == nil || keys["first"] != nil {
		t.Fatalf("rotated file: keys %v, changed %v, %v; want only the second key", keys, changed, err)
	}

	// A broken update keeps the keys in use, and says so once.
	write([]byte(`{"public_keys": [`), t0.Add(2*time.Hour))
	keys, changed, _, err = kf.Keys()
	if err == nil || changed || keys["second"] == nil {
		t.Fatalf("broken file: keys %v, changed %v, %v; want the second key kept and an error", keys, changed, err)
	}
	if _, _, _, err = kf.Keys(); err != nil {
		t.Errorf("the same broken file again: %v, want no new error until it changes", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if keys, _, _, err = kf.Keys(); err == nil || keys["second"] == nil {
		t.Errorf("removed file: keys %v, %v; want the second key kept and an error", keys, err)
	}

	if _, _, err := OpenKeyFile(path); err == nil {
		t.Error("OpenKeyFile of a missing file: no error")
	}
	write(secretscantest.KeysJSON(t, e("p384", secretscantest.NewPartner(t, "p384", elliptic.P384()).PEM(t))), t0)
	if _, _, err := OpenKeyFile(path); err == nil {
		t.Error("OpenKeyFile of a file without a P-256 key: no error")
	}
}
