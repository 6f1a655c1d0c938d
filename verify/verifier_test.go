package verify

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
)

// memStore is an in-memory Lookuper whose reads can be held at a gate, so
// tests can interleave a slow store read with other events. The verifier's
// behaviour under test (caching, sharing, invalidation) does not depend on
// which database answers; the stores have their own suite.
type memStore struct {
	mu      sync.Mutex
	creds   map[keystore.Hash]keystore.Credential
	err     error
	lookups atomic.Int64
	// gate, when set, holds each lookup after it has read its answer and
	// before it returns it, until the test sends on it.
	gate    chan struct{}
	entered chan struct{}
}

func newMemStore() *memStore { return &memStore{creds: map[keystore.Hash]keystore.Credential{}} }

func (m *memStore) LookupCredential(ctx context.Context, h keystore.Hash) (keystore.Credential, error) {
	m.lookups.Add(1)
	m.mu.Lock()
	c, ok := m.creds[h]
	err, gate, entered := m.err, m.gate, m.entered
	m.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		<-gate
	}
	switch {
	case err != nil:
		return keystore.Credential{}, err
	case !ok:
		return keystore.Credential{}, keystore.ErrNotFound
	}
	return c, nil
}

func (m *memStore) set(h keystore.Hash, c keystore.Credential) {
	m.mu.Lock()
	m.creds[h] = c
	m.mu.Unlock()
}

func (m *memStore) setErr(err error) {
	m.mu.Lock()
	m.err = err
	m.mu.Unlock()
}

// fakeClock is a settable clock for TTL and expiry tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newFixture returns a verifier over an empty memStore, on a fake clock.
func newFixture(t testing.TB) (*memStore, *fakeClock, *Verifier) {
	t.Helper()
	s, clock := newMemStore(), &fakeClock{now: time.Unix(1e9, 0)}
	return s, clock, newTestVerifier(t, s, clock)
}

func newTestVerifier(t testing.TB, s Lookuper, clock *fakeClock) *Verifier {
	t.Helper()
	v, err := NewVerifier(s, VerifierConfig{MaxCost: 1 << 20, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

func testKey(t testing.TB) keystore.Hash {
	t.Helper()
	_, h, err := keystore.GenerateKey(nil, keystore.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var testCred = keystore.Credential{KeyID: "kid_00000000000000000001", KeyName: "ci", IntegrationID: "crm", BaseURL: "http://127.0.0.1:1/v1"}

func TestVerifyCachesHits(t *testing.T) {
	s, _, v := newFixture(t)
	h := testKey(t)
	s.set(h, testCred)
	for i := 0; i < 5; i++ {
		got, err := v.Verify(context.Background(), h)
		if err != nil || got != testCred {
			t.Fatalf("verify %d: %+v, %v", i, got, err)
		}
	}
	if n := s.lookups.Load(); n != 1 {
		t.Fatalf("%d store lookups for 5 verifies of one key, want 1", n)
	}
}

func TestVerifyConcurrentFirstUseCostsOneLookup(t *testing.T) {
	s, _, v := newFixture(t)
	h := testKey(t)
	s.set(h, testCred)
	s.gate = make(chan struct{})
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.Verify(context.Background(), h); err != nil {
				errs <- err
			}
		}()
	}
	// Hold the one read until it has begun, then let it finish; callers
	// that arrive later find its result cached.
	s.gate <- struct{}{}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := s.lookups.Load(); got != 1 {
		t.Fatalf("%d store lookups for %d concurrent first uses, want 1", got, n)
	}
}

func TestVerifyNegativeCache(t *testing.T) {
	s, clock, v := newFixture(t)
	h := testKey(t)
	for i := 0; i < 3; i++ {
		if _, err := v.Verify(context.Background(), h); !errors.Is(err, keystore.ErrUnknownKey) {
			t.Fatalf("got %v, want keystore.ErrUnknownKey", err)
		}
	}
	if n := s.lookups.Load(); n != 1 {
		t.Fatalf("%d lookups for an unknown key verified 3 times, want 1", n)
	}
	// Once the negative entry is older than NegativeTTL, a key created
	// meanwhile is found.
	s.set(h, testCred)
	clock.Advance(DefaultNegativeTTL)
	if _, err := v.Verify(context.Background(), h); err != nil {
		t.Fatalf("after the negative TTL: %v", err)
	}
	if n := s.lookups.Load(); n != 2 {
		t.Fatalf("%d lookups, want 2", n)
	}
}

func TestVerifyTTLBoundsStaleness(t *testing.T) {
	s, clock, v := newFixture(t)
	h := testKey(t)
	s.set(h, testCred)
	if _, err := v.Verify(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	revoked := testCred
	revoked.RevokedAt = clock.Now()
	s.set(h, revoked)
	clock.Advance(DefaultTTL - time.Nanosecond)
	if _, err := v.Verify(context.Background(), h); err != nil {
		t.Fatalf("inside the TTL the cached record answers: %v", err)
	}
	clock.Advance(time.Nanosecond)
	got, err := v.Verify(context.Background(), h)
	if !errors.Is(err, keystore.ErrRevoked) || got.KeyID != testCred.KeyID {
		t.Fatalf("after the TTL: %+v, %v; want the revoked credential", got, err)
	}
}

func TestVerifyExpiryFromCachedRecord(t *testing.T) {
	s, clock, v := newFixture(t)
	h := testKey(t)
	c := testCred
	c.ExpiresAt = clock.Now().Add(time.Second)
	s.set(h, c)
	if _, err := v.Verify(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if got, err := v.Verify(context.Background(), h); !errors.Is(err, keystore.ErrExpired) || got.KeyID != c.KeyID {
		t.Fatalf("got %+v, %v; want keystore.ErrExpired with the credential", got, err)
	}
	if n := s.lookups.Load(); n != 1 {
		t.Fatalf("expiry cost %d lookups, want it read from the cache (1 in all)", n)
	}
}

func TestVerifyStoreFailureIsNotCached(t *testing.T) {
	s, _, v := newFixture(t)
	h := testKey(t)
	s.set(h, testCred)
	s.setErr(errors.New("connection refused"))
	for i := 0; i < 2; i++ {
		if _, err := v.Verify(context.Background(), h); !errors.Is(err, keystore.ErrStoreUnavailable) {
			t.Fatalf("got %v, want keystore.ErrStoreUnavailable", err)
		}
	}
	s.setErr(nil)
	if _, err := v.Verify(context.Background(), h); err != nil {
		t.Fatalf("after the store recovered: %v", err)
	}
	if n := s.lookups.Load(); n != 3 {
		t.Fatalf("%d lookups, want 3: failures must not be cached", n)
	}
}

func TestInvalidate(t *testing.T) {
	s, clock, v := newFixture(t)
	a, b := testKey(t), testKey(t)
	s.set(a, testCred)
	s.set(b, testCred)
	for _, h := range []keystore.Hash{a, b} {
		if _, err := v.Verify(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	revoked := testCred
	revoked.RevokedAt = clock.Now()
	s.set(a, revoked)
	v.Invalidate(a)
	if _, err := v.Verify(context.Background(), a); !errors.Is(err, keystore.ErrRevoked) {
		t.Fatalf("after Invalidate: %v, want keystore.ErrRevoked", err)
	}
	if _, err := v.Verify(context.Background(), b); err != nil {
		t.Fatalf("another key must stay valid: %v", err)
	}
	if n := s.lookups.Load(); n != 3 {
		t.Fatalf("%d lookups, want 3: only the invalidated key is read again", n)
	}
}

func TestDropAll(t *testing.T) {
	s, _, v := newFixture(t)
	h := testKey(t)
	s.set(h, testCred)
	if _, err := v.Verify(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	v.DropAll()
	if _, err := v.Verify(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if n := s.lookups.Load(); n != 2 {
		t.Fatalf("%d lookups, want 2: DropAll must make the entry a miss", n)
	}
}

// TestNoResurrection interleaves a slow store read with a revocation: the
// read sees the key valid, the revocation commits and invalidates, and only
// then does the read finish and cache what it saw. With a bare ristretto
// cache that late Set brings the revoked key back; here it must not.
func TestNoResurrection(t *testing.T) {
	s, clock, v := newFixture(t)
	h := testKey(t)
	s.set(h, testCred)
	s.gate, s.entered = make(chan struct{}), make(chan struct{})

	slow := make(chan error, 1)
	go func() {
		_, err := v.Verify(context.Background(), h)
		slow <- err
	}()
	<-s.entered // the read has seen the key valid

	revoked := testCred
	revoked.RevokedAt = clock.Now()
	s.set(h, revoked)
	v.Invalidate(h)

	s.gate <- struct{}{} // the read finishes and caches its stale answer
	if err := <-slow; err != nil {
		t.Fatalf("the read that began before the revocation may answer as before it: %v", err)
	}
	s.mu.Lock()
	s.gate, s.entered = nil, nil
	s.mu.Unlock()
	for i := 0; i < 3; i++ {
		if _, err := v.Verify(context.Background(), h); !errors.Is(err, keystore.ErrRevoked) {
			t.Fatalf("verify %d after the revocation: %v, want keystore.ErrRevoked", i, err)
		}
	}
}

// TestNoResurrectionUnderLoad races verifies against invalidations; run
// with -race. Whatever the interleaving, once the last revocation has been
// invalidated no verify may accept the key.
func TestNoResurrectionUnderLoad(t *testing.T) {
	s, clock, v := newFixture(t)
	h := testKey(t)
	s.set(h, testCred)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					_, _ = v.Verify(context.Background(), h)
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		v.Invalidate(h) // churn: entries come and go
	}
	revoked := testCred
	revoked.RevokedAt = clock.Now()
	s.set(h, revoked)
	v.Invalidate(h)
	for i := 0; i < 1000; i++ {
		if _, err := v.Verify(context.Background(), h); !errors.Is(err, keystore.ErrRevoked) {
			t.Fatalf("verify %d after the revocation: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestTombstonesArePruned(t *testing.T) {
	_, clock, v := newFixture(t)
	for i := 0; i < 10; i++ {
		v.Invalidate(testKey(t))
	}
	clock.Advance(v.tombstoneLife() + time.Second)
	v.Invalidate(testKey(t))
	v.mu.RLock()
	n := len(v.tombstones)
	v.mu.RUnlock()
	if n != 1 {
		t.Fatalf("%d tombstones kept, want only the fresh one", n)
	}
}

func TestVerifierConfigRejectsNegatives(t *testing.T) {
	if _, err := NewVerifier(newMemStore(), VerifierConfig{TTL: -time.Second}); err == nil {
		t.Fatal("want an error for a negative TTL")
	}
}

func BenchmarkVerifyHit(b *testing.B) {
	s := newMemStore()
	v, err := NewVerifier(s, VerifierConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	h := testKey(b)
	s.set(h, testCred)
	if _, err := v.Verify(context.Background(), h); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyHitParallel(b *testing.B) {
	s := newMemStore()
	v, err := NewVerifier(s, VerifierConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	h := testKey(b)
	s.set(h, testCred)
	if _, err := v.Verify(context.Background(), h); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(context.Background(), h); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestStaleTTLBoundsCacheWhileFeedIsDown(t *testing.T) {
	s, clock := newMemStore(), &fakeClock{now: time.Unix(1e9, 0)}
	// With a feed, the TTL is a long backstop; stale_ttl is what bounds.
	v, err := NewVerifier(s, VerifierConfig{TTL: time.Hour, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	h := testKey(t)
	s.set(h, testCred)
	if _, ok := v.FeedLag(clock.Now()); ok {
		t.Fatal("no feed has reported yet")
	}
	v.FeedHealthy(clock.Now())
	if _, err := v.Verify(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	s.setErr(errors.New("connection refused")) // the database goes down
	clock.Advance(DefaultStaleTTL)
	if _, err := v.Verify(context.Background(), h); err != nil {
		t.Fatalf("within stale_ttl the cached key stays valid: %v", err)
	}
	if lag, ok := v.FeedLag(clock.Now()); !ok || lag != DefaultStaleTTL {
		t.Fatalf("FeedLag = %v, %v", lag, ok)
	}
	clock.Advance(time.Nanosecond)
	if _, err := v.Verify(context.Background(), h); !errors.Is(err, keystore.ErrStoreUnavailable) {
		t.Fatalf("past stale_ttl: %v, want keystore.ErrStoreUnavailable", err)
	}
	s.setErr(nil) // back, and the feed catches up
	v.FeedHealthy(clock.Now())
	if _, err := v.Verify(context.Background(), h); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}
