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

// countMetric counts what the verifier reports to it.
type countMetric struct {
	n   atomic.Int64 // Inc - Dec, or observations
	sum atomic.Int64 // observed values, in nanoseconds
}

func (c *countMetric) Inc()              { c.n.Add(1) }
func (c *countMetric) Dec()              { c.n.Add(-1) }
func (c *countMetric) Observe(v float64) { c.n.Add(1); c.sum.Add(int64(v * 1e9)) }

type testMetrics struct {
	hits, misses, duration, inFlight, refused, rateRefused, reconnects countMetric
}

func (m *testMetrics) metrics() Metrics {
	return Metrics{CacheHits: &m.hits, CacheMisses: &m.misses, LookupDuration: &m.duration,
		LookupsInFlight: &m.inFlight, LookupsRefused: &m.refused, LookupRateRefused: &m.rateRefused,
		FeedReconnects: &m.reconnects}
}

func TestLookupCapRefusesPastMax(t *testing.T) {
	s := newMemStore()
	s.gate, s.entered = make(chan struct{}), make(chan struct{}, 8)
	var m testMetrics
	v, err := NewVerifier(s, VerifierConfig{MaxConcurrentLookups: 2, Metrics: m.metrics()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	ctx := context.Background()

	// Two slow lookups of unknown keys take both slots.
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		h := testKey(t)
		go func() {
			defer wg.Done()
			if _, err := v.Verify(ctx, h); !errors.Is(err, keystore.ErrUnknownKey) {
				t.Errorf("slow lookup: %v, want keystore.ErrUnknownKey", err)
			}
		}()
	}
	<-s.entered
	<-s.entered
	if got := m.inFlight.n.Load(); got != 2 {
		t.Errorf("in flight: %d, want 2", got)
	}

	// A third key is refused at once, without a store lookup.
	third := testKey(t)
	_, err = v.Verify(ctx, third)
	if !errors.Is(err, ErrLookupsBusy) || !errors.Is(err, keystore.ErrStoreUnavailable) {
		t.Fatalf("third lookup: %v, want ErrLookupsBusy wrapping keystore.ErrStoreUnavailable", err)
	}
	if got := s.lookups.Load(); got != 2 {
		t.Errorf("store lookups: %d, want 2", got)
	}
	if got := m.refused.n.Load(); got != 1 {
		t.Errorf("refused: %d, want 1", got)
	}

	s.gate <- struct{}{}
	s.gate <- struct{}{}
	wg.Wait()
	if got := m.inFlight.n.Load(); got != 0 {
		t.Errorf("in flight after the lookups: %d, want 0", got)
	}
	if got := m.duration.n.Load(); got != 2 {
		t.Errorf("lookup durations observed: %d, want 2", got)
	}

	// The refusal was not cached: with a free slot, the key is looked up.
	s.set(third, testCred)
	s.gate, s.entered = nil, nil
	if _, err := v.Verify(ctx, third); err != nil {
		t.Fatalf("third key once slots are free: %v", err)
	}
}

func TestLookupCapCountsSharedLookupOnce(t *testing.T) {
	s := newMemStore()
	s.gate, s.entered = make(chan struct{}), make(chan struct{}, 1)
	v, err := NewVerifier(s, VerifierConfig{MaxConcurrentLookups: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	h := testKey(t)
	s.set(h, testCred)

	// Many concurrent first uses of one key share its single lookup and
	// single slot: none is refused.
	const callers = 100
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Verify(context.Background(), h)
			errs <- err
		}()
	}
	<-s.entered
	// Callers either join the flight or, once it cached its answer, hit.
	close(s.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a caller failed: %v", err)
		}
	}
	if got := s.lookups.Load(); got != 1 {
		t.Fatalf("store lookups: %d, want 1", got)
	}
}

func TestVerifierMetricsHitsAndMisses(t *testing.T) {
	s := newMemStore()
	var m testMetrics
	v, err := NewVerifier(s, VerifierConfig{Metrics: m.metrics()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	h, unknown := testKey(t), testKey(t)
	s.set(h, testCred)
	ctx := context.Background()
	for range 3 {
		v.Verify(ctx, h)
		v.Verify(ctx, unknown)
	}
	if hits, misses := m.hits.n.Load(), m.misses.n.Load(); hits != 4 || misses != 2 {
		t.Fatalf("hits %d, misses %d; want 4 and 2 (negative entries are hits)", hits, misses)
	}
	v.FeedReconnected()
	if got := m.reconnects.n.Load(); got != 1 {
		t.Fatalf("feed reconnects: %d, want 1", got)
	}
}

func TestVerifyHitDoesNotAllocateWithMetrics(t *testing.T) {
	var m testMetrics
	s := newMemStore()
	v, err := NewVerifier(s, VerifierConfig{Metrics: m.metrics()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	h := testKey(t)
	s.set(h, testCred)
	ctx := context.Background()
	if _, err := v.Verify(ctx, h); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { v.Verify(ctx, h) }); n != 0 {
		t.Fatalf("a cache hit allocates %v times, want 0", n)
	}
}

func TestLookupRateBucket(t *testing.T) {
	r := newLookupRate(10) // a token every 100ms, 10 at most
	t0 := time.Unix(1_800_000_000, 0).UnixNano()
	ms := func(n int64) int64 { return t0 + n*int64(time.Millisecond) }
	for i := range 10 {
		if !r.allow(t0) {
			t.Fatalf("lookup %d of a full bucket refused", i+1)
		}
	}
	if r.allow(t0) {
		t.Fatal("an 11th lookup at once was allowed")
	}
	if r.allow(ms(99)) {
		t.Fatal("a token was back before 100ms")
	}
	if !r.allow(ms(100)) || r.allow(ms(100)) {
		t.Fatal("want exactly one token back after 100ms")
	}
	// Idle for long, the bucket holds a second's worth, no more.
	n := 0
	for r.allow(ms(60_000)) {
		n++
	}
	if n != 10 {
		t.Fatalf("after a minute idle: %d lookups at once, want 10", n)
	}
	// Steady at the rate: every one allowed.
	for i := int64(1); i <= 50; i++ {
		if !r.allow(ms(60_000 + 100*i)) {
			t.Fatalf("lookup at the rate (%d) refused", i)
		}
	}

	off := newLookupRate(-1)
	for range 1000 {
		if !off.allow(t0) {
			t.Fatal("no limit refused a lookup")
		}
	}
	if half := newLookupRate(0.5); !half.allow(t0) || half.allow(ms(1999)) || !half.allow(ms(2000)) {
		t.Fatal("0.5/s: want one at once, the next after 2s")
	}
}

func TestLookupRateConcurrent(t *testing.T) {
	r := newLookupRate(100)
	now := time.Unix(1_800_000_000, 0).UnixNano()
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if r.allow(now) {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != 100 {
		t.Fatalf("800 concurrent lookups at one instant: %d allowed, want the bucket's 100", got)
	}
}

func TestVerifierLookupRate(t *testing.T) {
	s := newMemStore()
	var m testMetrics
	var clock atomic.Int64
	clock.Store(time.Unix(1_800_000_000, 0).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	v, err := NewVerifier(s, VerifierConfig{MaxLookupRate: 2, Now: now, Metrics: m.metrics()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	ctx := context.Background()

	known := testKey(t)
	s.set(known, testCred)
	if _, err := v.Verify(ctx, known); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, testKey(t)); !errors.Is(err, keystore.ErrUnknownKey) {
		t.Fatalf("second lookup: %v, want keystore.ErrUnknownKey", err)
	}
	// The budget of 2 is spent: a third unknown key is refused without a
	// lookup, and the refusal is not cached.
	third := testKey(t)
	if _, err := v.Verify(ctx, third); !errors.Is(err, ErrLookupsBusy) || !errors.Is(err, keystore.ErrStoreUnavailable) {
		t.Fatalf("past the rate: %v, want ErrLookupsBusy wrapping keystore.ErrStoreUnavailable", err)
	}
	if got := s.lookups.Load(); got != 2 {
		t.Errorf("store lookups: %d, want 2", got)
	}
	if got, busy := m.rateRefused.n.Load(), m.refused.n.Load(); got != 1 || busy != 0 {
		t.Errorf("refused by the rate %d, by the cap %d; want 1 and 0", got, busy)
	}
	// A cached key needs no budget.
	for range 100 {
		if _, err := v.Verify(ctx, known); err != nil {
			t.Fatalf("cached key while the budget is spent: %v", err)
		}
	}
	// Half a second later, one lookup's worth is back.
	clock.Add(int64(500 * time.Millisecond))
	s.set(third, testCred)
	if _, err := v.Verify(ctx, third); err != nil {
		t.Fatalf("after 500ms: %v", err)
	}
	if _, err := v.Verify(ctx, testKey(t)); !errors.Is(err, ErrLookupsBusy) {
		t.Fatalf("second lookup after 500ms: %v, want ErrLookupsBusy", err)
	}

	// Negative: no limit.
	free, err := NewVerifier(s, VerifierConfig{MaxLookupRate: -1, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(free.Close)
	for range 50 {
		if _, err := free.Verify(ctx, testKey(t)); !errors.Is(err, keystore.ErrUnknownKey) {
			t.Fatalf("no rate limit: %v, want keystore.ErrUnknownKey", err)
		}
	}
}
