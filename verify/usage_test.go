package verify

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
)

// touchLog is a Toucher that remembers its calls.
type touchLog struct {
	mu    sync.Mutex
	calls []map[string]keystore.Use
	err   error
}

func (l *touchLog) TouchKeys(_ context.Context, uses map[string]keystore.Use) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, uses)
	return l.err
}

func TestUsageRecorderCoalesces(t *testing.T) {
	log := &touchLog{}
	u := NewUsageRecorder(log, time.Second)
	base := time.Unix(1_800_000_000, 0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				u.Record("kid_a", base.Add(time.Duration(g*1000+i)*time.Millisecond))
				u.Record("kid_b", base)
			}
		})
	}
	wg.Wait()
	if err := u.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := u.Flush(t.Context()); err != nil { // nothing new: no write
		t.Fatal(err)
	}
	if len(log.calls) != 1 || u.Flushes() != 1 {
		t.Fatalf("16000 uses gave %d writes, want 1", len(log.calls))
	}
	want := base.Add(7999 * time.Millisecond)
	got := log.calls[0]
	if len(got) != 2 || !got["kid_a"].Last.Equal(want) || !got["kid_b"].Last.Equal(base) {
		t.Fatalf("batch = %v, want kid_a at %v and kid_b at %v", got, want, base)
	}
	if got["kid_a"].Requests != 8000 || got["kid_b"].Requests != 8000 {
		t.Fatalf("batch counts kid_a %d and kid_b %d requests, want 8000 each", got["kid_a"].Requests, got["kid_b"].Requests)
	}
}

func TestUsageRecorderKeepsFailedBatch(t *testing.T) {
	log := &touchLog{err: errors.New("down")}
	u := NewUsageRecorder(log, time.Second)
	at := time.Unix(1_800_000_000, 0)
	u.Record("kid_a", at)
	if err := u.Flush(t.Context()); err == nil {
		t.Fatal("a failed write was not reported")
	}
	u.Record("kid_a", at.Add(-time.Second))
	log.err = nil
	if err := u.Close(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if len(log.calls) != 2 || log.calls[1]["kid_a"] != (keystore.Use{Last: at, Requests: 2}) {
		t.Fatalf("calls = %v, want the failed batch written again on close", log.calls)
	}
}

func TestUsageRecorderRecordAllocatesNothing(t *testing.T) {
	u := NewUsageRecorder(&touchLog{}, time.Second)
	at := time.Unix(1_800_000_000, 0)
	u.Record("kid_a", at)
	if n := testing.AllocsPerRun(1000, func() { at = at.Add(time.Millisecond); u.Record("kid_a", at) }); n != 0 {
		t.Fatalf("Record of a known key allocates %v times", n)
	}
}

func TestUsageRecorderRunAndClose(t *testing.T) {
	log := &touchLog{}
	u := NewUsageRecorder(log, time.Second)
	go u.Run(time.Millisecond, func(err error) { t.Error(err) })
	u.Record("kid_a", time.Unix(1_800_000_000, 0))
	deadline := time.Now().Add(5 * time.Second)
	for u.Flushes() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	u.Record("kid_b", time.Unix(1_800_000_001, 0))
	if err := u.Close(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	seen := map[string]bool{}
	for _, c := range log.calls {
		for id := range c {
			seen[id] = true
		}
	}
	if !seen["kid_a"] || !seen["kid_b"] {
		t.Fatalf("after Close, written: %v", log.calls)
	}
}

// sumMetric sums Inc and Add calls.
type sumMetric struct {
	mu sync.Mutex
	n  float64
}

func (c *sumMetric) Inc() { c.Add(1) }
func (c *sumMetric) Add(v float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += v
}
func (c *sumMetric) value() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func TestUsageRecorderMetrics(t *testing.T) {
	log := &touchLog{}
	u := NewUsageRecorder(log, time.Second)
	flushes, written := &sumMetric{}, &sumMetric{}
	u.SetMetrics(Metrics{LastUsedFlushes: flushes, LastUsedKeysWritten: written})
	at := time.Unix(1_800_000_000, 0)
	u.Record("kid_a", at)
	u.Record("kid_b", at)
	if err := u.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := u.Flush(t.Context()); err != nil { // nothing to write: not a flush
		t.Fatal(err)
	}
	if f, w := flushes.value(), written.value(); f != 1 || w != 2 {
		t.Fatalf("after one batch of 2 keys: flushes %v, keys written %v; want 1 and 2", f, w)
	}
	// A failed batch is a flush attempt, but writes no key.
	log.err = errors.New("down")
	u.Record("kid_a", at.Add(time.Second))
	if err := u.Flush(t.Context()); err == nil {
		t.Fatal("a failed write was not reported")
	}
	if f, w := flushes.value(), written.value(); f != 2 || w != 2 {
		t.Fatalf("after a failed batch: flushes %v, keys written %v; want 2 and 2", f, w)
	}
	// Record touches no instrument and still allocates nothing.
	if n := testing.AllocsPerRun(1000, func() { at = at.Add(time.Millisecond); u.Record("kid_a", at) }); n != 0 {
		t.Fatalf("Record with metrics allocates %v times", n)
	}
}
