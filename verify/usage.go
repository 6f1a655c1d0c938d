package verify

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultUsageInterval is how often a UsageRecorder writes the uses it
// gathered, by default.
const DefaultUsageInterval = 5 * time.Second

// Toucher is the part of a Store a UsageRecorder writes to.
type Toucher interface {
	TouchKeys(ctx context.Context, uses map[string]time.Time) error
}

// UsageRecorder keeps the latest use of each key in memory and writes them
// to the store in one batch per interval (Store.TouchKeys: one statement,
// only moving last_used_at forward, never touching the change feed), so
// that a request costs no database write.
//
// Record is cheap and safe for concurrent use: after a key's first use it
// allocates nothing, takes no lock, and only writes when time has moved on.
type UsageRecorder struct {
	store   Toucher
	timeout time.Duration
	// uses maps a key id to an *atomic.Int64: the Unix nanoseconds of its
	// latest use not yet written, 0 when none. Entries are never removed:
	// there is one per key used since start, which only valid keys reach.
	uses sync.Map

	flushMu  sync.Mutex // one flush at a time
	flushes  atomic.Int64
	metrics  Metrics // only LastUsedFlushes and LastUsedKeysWritten
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// NewUsageRecorder returns a recorder writing to store, each write bounded
// by timeout. Start it with Run.
func NewUsageRecorder(store Toucher, timeout time.Duration) *UsageRecorder {
	return &UsageRecorder{store: store, timeout: timeout, metrics: Metrics{}.withDefaults(),
		stop: make(chan struct{}), done: make(chan struct{})}
}

// SetMetrics makes the recorder count its flushes in m's LastUsedFlushes
// and the keys they wrote in m.LastUsedKeysWritten; m's other instruments
// are not used. Call it before Run. Only flushes touch the instruments,
// never Record.
func (u *UsageRecorder) SetMetrics(m Metrics) {
	u.flushMu.Lock()
	defer u.flushMu.Unlock()
	u.metrics = m.withDefaults()
}

// Record notes that key id was used at `at`.
func (u *UsageRecorder) Record(id string, at time.Time) {
	v, ok := u.uses.Load(id)
	if !ok {
		v, _ = u.uses.LoadOrStore(id, new(atomic.Int64))
	}
	latest, t := v.(*atomic.Int64), at.UnixNano()
	for {
		old := latest.Load()
		if old >= t || latest.CompareAndSwap(old, t) {
			return
		}
	}
}

// Flush writes the uses gathered since the last flush, if any, in one
// call to TouchKeys. On failure they are kept for the next flush.
func (u *UsageRecorder) Flush(ctx context.Context) error {
	u.flushMu.Lock()
	defer u.flushMu.Unlock()
	batch := map[string]time.Time{}
	u.uses.Range(func(k, v any) bool {
		if t := v.(*atomic.Int64).Swap(0); t != 0 {
			batch[k.(string)] = time.Unix(0, t)
		}
		return true
	})
	if len(batch) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, u.timeout)
	defer cancel()
	u.flushes.Add(1)
	u.metrics.LastUsedFlushes.Inc()
	if err := u.store.TouchKeys(ctx, batch); err != nil {
		for id, at := range batch {
			u.Record(id, at)
		}
		return err
	}
	u.metrics.LastUsedKeysWritten.Add(float64(len(batch)))
	return nil
}

// Flushes returns how many batches were written (or attempted).
func (u *UsageRecorder) Flushes() int64 { return u.flushes.Load() }

// Run flushes every interval until Close; onError hears of failed
// flushes. Call it once, in a goroutine of its own.
func (u *UsageRecorder) Run(interval time.Duration, onError func(error)) {
	defer close(u.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-u.stop:
			return
		case <-tick.C:
			if err := u.Flush(context.Background()); err != nil {
				onError(err)
			}
		}
	}
}

// Close stops Run, if it was started, and writes what is left.
func (u *UsageRecorder) Close(ctx context.Context, running bool) error {
	u.stopOnce.Do(func() { close(u.stop) })
	if running {
		<-u.done
	}
	return u.Flush(ctx)
}
