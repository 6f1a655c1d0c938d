package token

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestRingRollsAndKeepsOldKeyForItsTokens(t *testing.T) {
	clk := &clock{t: t0}
	store := newMemKeys()
	r := newTestRing(t, store, clk, 1) // ttl 1h, refresh 1m
	kid1, priv1, _ := signer(t, r)
	old, _, err := r.Mint("key1", "billing", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Three refresh periods before the first key stops signing, the next
	// is created, but the first still signs until the next is published.
	clk.Add(56 * time.Minute)
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if store.adds != 1 {
		t.Fatalf("rolled too early: %d keys", store.adds)
	}
	clk.Add(time.Minute)
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if store.adds != 2 {
		t.Fatalf("did not roll: %d keys", store.adds)
	}
	if kid, _, _ := signer(t, r); kid != kid1 {
		t.Fatal("signed with the new key before it was published")
	}
	clk.Add(2 * time.Minute)
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	kid2, _, _ := signer(t, r)
	if kid2 == kid1 {
		t.Fatal("still signing with the old key after the new one was published")
	}
	// The old key's token is good until it expires.
	if _, err := r.Verify(context.Background(), old); err != nil {
		t.Fatalf("token of the previous key: %v", err)
	}
	// After its last token expired the old key is rolled out: a token it
	// signed (forged here, as no genuine one can live that long) is
	// refused as of an unknown key.
	clk.Add(2 * time.Hour)
	if err := r.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Keys().byKID[kid1]; ok {
		t.Fatal("rolled-out key still in the set")
	}
	forged := forge(t, map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": kid1}, validClaims(clk.Now()), ed25519Signer(priv1))
	if _, err := r.Verify(context.Background(), forged); !errors.Is(err, ErrUnknownSigningKey) {
		t.Fatalf("token of a rolled-out key: err = %v, want ErrUnknownSigningKey", err)
	}
}

// TestRingConcurrentRollCreatesOne: gateways refreshing at the same
// moment store exactly one next key, and all sign with it.
func TestRingConcurrentRollCreatesOne(t *testing.T) {
	clk := &clock{t: t0}
	store := newMemKeys()
	rings := make([]*Ring, 8)
	for i := range rings {
		r, err := NewRing(store, RingConfig{SigningKeyTTL: time.Hour, Refresh: time.Minute, Now: clk.Now, Random: seeded(uint64(i + 1))})
		if err != nil {
			t.Fatal(err)
		}
		rings[i] = r
	}
	var wg sync.WaitGroup
	for _, r := range rings {
		wg.Go(func() {
			if err := r.Refresh(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if store.adds != 1 {
		t.Fatalf("%d signing keys created, want 1", store.adds)
	}
	kid, _, _ := signer(t, rings[0])
	for i, r := range rings {
		if k, _, _ := signer(t, r); k != kid {
			t.Fatalf("ring %d signs with %s, ring 0 with %s", i, k, kid)
		}
	}
}

// TestRingReloadsOnUnknownKid: a token signed by a key another gateway
// just created is verified after one reload; made-up kids cost at most one
// reload a second.
func TestRingReloadsOnUnknownKid(t *testing.T) {
	clk := &clock{t: t0}
	store := newMemKeys()
	a := newTestRing(t, store, clk, 1)
	b := newTestRing(t, store, clk, 2)
	// a rolls; b has not refreshed since.
	clk.Add(58 * time.Minute)
	if err := a.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.Add(3 * time.Minute)
	if err := a.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	raw, _, err := a.Mint("key1", "billing", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(context.Background(), raw); err != nil {
		t.Fatalf("token of a key another gateway created: %v", err)
	}
	// Store down: an unknown kid is refused, not an error of another kind.
	store.fail = errors.New("down")
	_, priv, _ := ed25519Key(t, store, signerKID(t, a))
	forged := forge(t, map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": "made-up"}, validClaims(clk.Now()), ed25519Signer(priv))
	clk.Add(2 * time.Second)
	if _, err := b.Verify(context.Background(), forged); !errors.Is(err, ErrUnknownSigningKey) {
		t.Fatalf("err = %v, want ErrUnknownSigningKey", err)
	}
}

func TestRingSealedKeys(t *testing.T) {
	clk := &clock{t: t0}
	store := newMemKeys()
	sealed, err := NewRing(store, RingConfig{SetConfig: SetConfig{Secret: []byte("s3cret")}, SigningKeyTTL: time.Hour, Now: clk.Now, Random: seeded(1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := sealed.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	raw, _, err := sealed.Mint("key1", "billing", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range store.keys {
		if k.PrivateKey[0] != formSealed {
			t.Fatal("private key stored unsealed under a secret")
		}
	}
	// Without the secret a gateway verifies but cannot sign.
	plain, err := NewRing(store, RingConfig{SigningKeyTTL: time.Hour, Now: clk.Now, Random: seeded(2)})
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Refresh(context.Background()); !errors.Is(err, ErrSealed) {
		t.Fatalf("refresh without the secret: err = %v, want ErrSealed", err)
	}
	if _, err := plain.Verify(context.Background(), raw); err != nil {
		t.Fatalf("verifying without the secret: %v", err)
	}
	if _, _, err := plain.Mint("key1", "billing", time.Minute); !errors.Is(err, ErrNoSigningKey) {
		t.Fatalf("minting without the secret: err = %v", err)
	}
}

func signerKID(t testing.TB, r *Ring) string { kid, _, _ := signer(t, r); return kid }
