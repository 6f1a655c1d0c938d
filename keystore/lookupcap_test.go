package keystore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// countMetric counts what the verifier reports to it.
type countMetric struct {
	n   atomic.Int64 // Inc - Dec, or observations
	sum atomic.Int64 // observed values, in nanoseconds
}

func (c *countMetric) Inc()              { c.n.Add(1) }
func (c *countMetric) Dec()              { c.n.Add(-1) }
func (c *countMetric) Observe(v float64) { c.n.Add(1); c.sum.Add(int64(v * 1e9)) }

type testMetrics struct{ hits, misses, duration, inFlight, refused, reconnects countMetric }

func (m *testMetrics) metrics() Metrics {
	return Metrics{CacheHits: &m.hits, CacheMisses: &m.misses, LookupDuration: &m.duration,
		LookupsInFlight: &m.inFlight, LookupsRefused: &m.refused, FeedReconnects: &m.reconnects}
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
			if _, err := v.Verify(ctx, h); !errors.Is(err, ErrUnknownKey) {
				t.Errorf("slow lookup: %v, want ErrUnknownKey", err)
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
	if !errors.Is(err, ErrLookupsBusy) || !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("third lookup: %v, want ErrLookupsBusy wrapping ErrStoreUnavailable", err)
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
