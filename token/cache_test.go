package token

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/verify"
)

// waitCached waits until ristretto's asynchronous Set of raw has landed.
func waitCached(c *Cache) { c.cache.Wait() }

func TestCacheServesVerifiedTokens(t *testing.T) {
	clk := &clock{t: t0}
	store := newMemKeys()
	r := newTestRing(t, store, clk, 1)
	c, err := NewCache(r, 1<<20, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, minted, err := r.Mint("key1", "billing", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Verify(context.Background(), raw)
	if err != nil || v.Claims != minted || v.IDHash != keystore.IDHash("key1") {
		t.Fatalf("first use = %+v, %v", v, err)
	}
	waitCached(c)
	again, err := c.Verify(context.Background(), raw)
	if err != nil || again != v {
		t.Fatalf("second use = %p, %v; want the cached entry %p", again, err, v)
	}
	// A token that shares the cached one's tail (its cache key) is a
	// miss, checked in full.
	sameTail := raw[:len(Prefix)] + "x" + raw[len(Prefix):]
	if _, ok := c.Cached(sameTail); ok {
		t.Fatal("a token sharing the cached one's tail was answered from the cache")
	}
	if _, err := c.Verify(context.Background(), sameTail); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a token sharing the cached one's tail: err = %v, want it refused", err)
	}
	if _, ok := c.Cached(raw); !ok {
		t.Fatal("the cached token is no longer cached")
	}
	// A cached token still expires.
	clk.Add(time.Minute)
	if expired, err := c.Verify(context.Background(), raw); !errors.Is(err, ErrExpired) || expired == nil || expired.Claims != minted {
		t.Fatalf("cached token past expiry: %+v, %v; want ErrExpired with its claims", expired, err)
	}
}

// TestCacheDropsTokensOfWithdrawnKey: an operator who deletes a signing
// key (say it leaked) makes its cached tokens fail at the next refresh.
func TestCacheDropsTokensOfWithdrawnKey(t *testing.T) {
	clk := &clock{t: t0}
	store := newMemKeys()
	r := newTestRing(t, store, clk, 1)
	c, err := NewCache(r, 1<<20, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, _, err := r.Mint("key1", "billing", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	waitCached(c)
	store.mu.Lock()
	clear(store.keys)
	store.mu.Unlock()
	if err := r.Refresh(context.Background()); err != nil { // creates a new key
		t.Fatal(err)
	}
	clk.Add(2 * time.Second) // past the unknown-kid reload bound
	if _, err := c.Verify(context.Background(), raw); !errors.Is(err, ErrUnknownSigningKey) {
		t.Fatalf("token of a withdrawn signing key: err = %v, want ErrUnknownSigningKey", err)
	}
}

// BenchmarkTokenVsKey compares, in one run, a cached token's use with a
// cached key's: the token path is the cache of verified tokens and the
// parent key's state by id, the key path ParseKey and Verify. It also
// reports a first use, which checks the signature. Metrics: token-hit/key-hit
// (want <= 1) and first-use-µs.
func BenchmarkTokenVsKey(b *testing.B) {
	clk := &clock{t: time.Now()}
	r := newTestRing(b, newMemKeys(), clk, 1)
	cache, err := NewCache(r, 64<<20, clk.Now)
	if err != nil {
		b.Fatal(err)
	}
	defer cache.Close()
	key, hash, err := keystore.GenerateKey(nil, keystore.DefaultPrefix)
	if err != nil {
		b.Fatal(err)
	}
	cred := keystore.Credential{KeyID: "kid_bench", KeyName: "bench", IntegrationID: "billing", BaseURL: "http://127.0.0.1:1"}
	v, err := verify.NewVerifier(benchStore{hash: hash, cred: cred}, verify.VerifierConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	raw, _, err := r.Mint(cred.KeyID, cred.IntegrationID, 15*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	keyUse := func() error {
		h, err := keystore.ParseKey(keystore.DefaultPrefix, key)
		if err != nil {
			return err
		}
		_, err = v.Verify(ctx, h)
		return err
	}
	tokenUse := func() error {
		t, err := cache.Verify(ctx, raw)
		if err != nil {
			return err
		}
		_, err = v.VerifyKeyID(ctx, t.Claims.KeyID(), t.IDHash, &t.Key)
		return err
	}
	for range 100 { // warm both caches past ristretto's admission
		if keyUse() != nil || tokenUse() != nil {
			b.Fatal("warming up failed")
		}
		time.Sleep(100 * time.Microsecond)
	}
	// The two paths take turns, in rounds, so that the machine's noise
	// falls on both alike.
	timed := func(use func() error, n int) time.Duration {
		began := time.Now()
		for range n {
			if err := use(); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(began)
	}
	const rounds, per = 20, 5000
	var keyTime, tokenTime time.Duration
	for range rounds {
		keyTime += timed(keyUse, per)
		tokenTime += timed(tokenUse, per)
	}
	firstUse := timed(func() error { _, err := r.Keys().Verify(raw, clk.Now()); return err }, 2000) / 2000
	b.ResetTimer()
	for b.Loop() {
		if err := tokenUse(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tokenTime)/float64(keyTime), "token-hit/key-hit")
	b.ReportMetric(float64(keyTime.Nanoseconds())/(rounds*per), "key-hit-ns")
	b.ReportMetric(float64(firstUse.Nanoseconds())/1e3, "first-use-µs")
}

// benchStore answers one key, by hash and by id.
type benchStore struct {
	hash keystore.Hash
	cred keystore.Credential
}

func (s benchStore) LookupCredential(_ context.Context, h keystore.Hash) (keystore.Credential, error) {
	if h != s.hash {
		return keystore.Credential{}, keystore.ErrNotFound
	}
	return s.cred, nil
}

func (s benchStore) LookupCredentialByID(_ context.Context, id string) (keystore.Credential, error) {
	if id != s.cred.KeyID {
		return keystore.Credential{}, keystore.ErrNotFound
	}
	return s.cred, nil
}
