package token

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func validClaims(now time.Time) Claims {
	return Claims{Issuer: DefaultIssuer, Subject: "key1", ClientID: "key1", Integration: "billing",
		IssuedAt: now.Unix(), Expiry: now.Add(10 * time.Minute).Unix(), ID: "jti1"}
}

func TestMintVerifyRoundTrip(t *testing.T) {
	clk := &clock{t: t0}
	r := newTestRing(t, newMemKeys(), clk, 1)
	raw, minted, err := r.Mint("key1", "billing", 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(raw, "kgt_") {
		t.Fatalf("token %q... lacks the kgt_ prefix", raw[:8])
	}
	got, err := r.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("verifying a fresh token: %v", err)
	}
	if got != minted || got.Subject != "key1" || got.ClientID != "key1" || got.Integration != "billing" ||
		got.Expiry-got.IssuedAt != 900 || got.ID == "" {
		t.Fatalf("claims = %+v, minted %+v", got, minted)
	}
	// The header names the key and the type, with EdDSA.
	hdr, _ := encoding.DecodeString(strings.Split(raw[len(Prefix):], ".")[0])
	var h map[string]any
	if err := json.Unmarshal(hdr, &h); err != nil {
		t.Fatal(err)
	}
	kid, _, _ := signer(t, r)
	if h["alg"] != "EdDSA" || h["typ"] != "at+jwt" || h["kid"] != kid {
		t.Fatalf("header = %v", h)
	}
}

func TestMintBoundedByMaxTTL(t *testing.T) {
	clk := &clock{t: t0}
	r := newTestRing(t, newMemKeys(), clk, 1)
	_, c, err := r.Mint("key1", "billing", 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c.Expiry-c.IssuedAt != int64(DefaultMaxTTL/time.Second) {
		t.Fatalf("lifetime %ds, want max_token_ttl", c.Expiry-c.IssuedAt)
	}
}

func TestVerifyExpired(t *testing.T) {
	clk := &clock{t: t0}
	r := newTestRing(t, newMemKeys(), clk, 1)
	raw, _, err := r.Mint("key1", "billing", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(59 * time.Second)
	if _, err := r.Verify(context.Background(), raw); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	clk.Add(time.Second)
	if _, err := r.Verify(context.Background(), raw); !errors.Is(err, ErrExpired) {
		t.Fatalf("at expiry: err = %v, want ErrExpired", err)
	}
}

// TestVerifyRefusesTampered covers the attacks on JWT verifiers: none,
// HMAC keyed with the public key, changed claims, another key's kid, and
// tokens keygate would never write; Ed25519 under its RFC 9864 name is
// accepted.
func TestVerifyRefusesTampered(t *testing.T) {
	clk := &clock{t: t0}
	store := newMemKeys()
	r := newTestRing(t, store, clk, 1)
	kid, priv, pub := signer(t, r)
	_, otherPriv, _ := ed25519.GenerateKey(seeded(9))
	now := clk.Now()
	hdr := func(alg string) map[string]any { return map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid} }
	good, _, err := r.Mint("key1", "billing", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good[len(Prefix):], ".")
	changed := validClaims(now)
	changed.Subject, changed.ClientID = "key2", "key2"
	changedPayload := Prefix + parts[0] + "." + encoding.EncodeToString(mustJSON(t, changed)) + "." + parts[2]

	accepted := map[string]string{
		"EdDSA forged with our key":   forge(t, hdr("EdDSA"), validClaims(now), ed25519Signer(priv)),
		"Ed25519 fully-specified alg": forge(t, hdr("Ed25519"), validClaims(now), ed25519Signer(priv)),
	}
	for name, raw := range accepted {
		if _, err := r.Verify(context.Background(), raw); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
	refused := map[string]string{
		"alg none":              forge(t, hdr("none"), validClaims(now), func([]byte) []byte { return nil }),
		"HS256 with public key": forge(t, hdr("HS256"), validClaims(now), hs256Signer(pub)),
		"changed claims":        changedPayload,
		"other signer":          forge(t, hdr("EdDSA"), validClaims(now), ed25519Signer(otherPriv)),
		"unknown kid":           forge(t, map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": "nope"}, validClaims(now), ed25519Signer(priv)),
		"no kid":                forge(t, map[string]any{"alg": "EdDSA", "typ": "at+jwt"}, validClaims(now), ed25519Signer(priv)),
		"wrong typ":             forge(t, map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": kid}, validClaims(now), ed25519Signer(priv)),
		"embedded jwk":          forge(t, map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": encoding.EncodeToString(pub)}}, validClaims(now), ed25519Signer(priv)),
		"no prefix":             strings.TrimPrefix(good, Prefix),
		"sub != client_id":      forge(t, hdr("EdDSA"), func() Claims { c := validClaims(now); c.ClientID = "key2"; return c }(), ed25519Signer(priv)),
		"other issuer":          forge(t, hdr("EdDSA"), func() Claims { c := validClaims(now); c.Issuer = "evil"; return c }(), ed25519Signer(priv)),
		"longer than max ttl":   forge(t, hdr("EdDSA"), func() Claims { c := validClaims(now); c.Expiry = now.Add(2 * time.Hour).Unix(); return c }(), ed25519Signer(priv)),
		"issued in the future":  forge(t, hdr("EdDSA"), func() Claims { c := validClaims(now.Add(time.Hour)); return c }(), ed25519Signer(priv)),
		"no jti":                forge(t, hdr("EdDSA"), func() Claims { c := validClaims(now); c.ID = ""; return c }(), ed25519Signer(priv)),
		"claims not an object":  forge(t, hdr("EdDSA"), []int{1}, ed25519Signer(priv)),
		"truncated signature":   good[:len(good)-4],
		"too long":              good + strings.Repeat("A", MaxLen),
	}
	for name, raw := range refused {
		if c, err := r.Verify(context.Background(), raw); err == nil {
			t.Errorf("%s: accepted with claims %+v", name, c)
		}
	}
	if _, err := r.Verify(context.Background(), good); err != nil {
		t.Fatalf("the untampered token: %v", err)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestJWKS(t *testing.T) {
	clk := &clock{t: t0}
	r := newTestRing(t, newMemKeys(), clk, 1)
	kid, _, pub := signer(t, r)
	doc, err := r.Keys().JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS %s: want one key", doc)
	}
	k := set.Keys[0]
	if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["kid"] != kid || k["x"] != encoding.EncodeToString(pub) || k["alg"] != "EdDSA" || k["use"] != "sig" {
		t.Fatalf("JWK = %v", k)
	}
	if _, ok := k["d"]; ok || strings.Contains(string(doc), `"d"`) {
		t.Fatal("JWKS holds a private key")
	}
}
