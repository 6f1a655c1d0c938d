package verify

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/keystore"
)

// DefaultUsageInterval is how often a UsageRecorder writes the uses it
// gathered, by default.
const DefaultUsageInterval = 5 * time.Second

// Toucher is the part of a Store a UsageRecorder writes to.
type Toucher interface {
	TouchKeys(ctx context.Context, uses map[string]keystore.Use) error
}

// keyUse is what a UsageRecorder gathers of one key between flushes.
type keyUse struct {
	latest   atomic.Int64 // Unix nanoseconds of the latest use, 0 when none
	requests atomic.Int64
}

// UsageRecorder keeps the latest use and the request count of each key in
// memory and writes them to the store in one batch per interval
// (Store.TouchKeys: one statement, only moving last_used_at forward and
// adding the counts to the key's usage bucket, never touching the change
// feed), so that a request costs no database write. A flush counts the
// requests it gathered in the bucket of the key's latest use: with a flush
// every few seconds and buckets of minutes, a count lands at most one
// bucket late.
//
// Record is cheap and safe for concurrent use: after a key's first use it
// allocates nothing, takes no lock, and only writes when time has moved on.
type UsageRecorder struct {
	store   Toucher
	timeout time.Duration
	// uses maps a key id to a *keyUse not yet written. Entries are never
	// removed: there is one per key used since start, which only valid
	// keys reach.
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
	u.add(id, at.UnixNano(), 1)
}

// add counts n requests of key id, the latest at t (Unix nanoseconds).
func (u *UsageRecorder) add(id string, t, n int64) {
	v, ok := u.uses.Load(id)
	if !ok {
		v, _ = u.uses.LoadOrStore(id, new(keyUse))
	}
	use := v.(*keyUse)
	use.requests.Add(n)
	for {
		old := use.latest.Load()
		if old >= t || use.latest.CompareAndSwap(old, t) {
			return
		}
	}
}

// Flush writes the uses gathered since the last flush, if any, in one
// call to TouchKeys. On failure they are kept for the next flush.
func (u *UsageRecorder) Flush(ctx context.Context) error {
	u.flushMu.Lock()
	defer u.flushMu.Unlock()
	batch := map[string]keystore.Use{}
	u.uses.Range(func(k, v any) bool {
		use := v.(*keyUse)
		if t := use.latest.Swap(0); t != 0 {
			batch[k.(string)] = keystore.Use{Last: time.Unix(0, t), Requests: use.requests.Swap(0)}
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
		for id, use := range batch {
			u.add(id, use.Last.UnixNano(), use.Requests)
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
