package verify

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/keystore"
)

// DefaultMaxConcurrentLookups bounds the store lookups under way at once
// in one verifier when VerifierConfig sets no bound: well above what a
// pool of database connections serves at once, so that legitimate cold
// keys queue briefly, while a flood of unknown keys gets fast 503s
// instead of an ever longer queue in front of the database.
const DefaultMaxConcurrentLookups = 64

// ErrLookupsBusy is returned by Verify when a key needs the store and
// MaxConcurrentLookups lookups are already under way, or MaxLookupRate's
// budget is spent for now. It wraps
// ErrStoreUnavailable: the client should retry shortly.
var ErrLookupsBusy = fmt.Errorf("%w: too many concurrent store lookups", keystore.ErrStoreUnavailable)

// lookupCap counts the store lookups under way and refuses one past max.
type lookupCap struct {
	max      int64
	inFlight atomic.Int64
}

// acquire takes a lookup slot, or reports that none is free.
func (c *lookupCap) acquire() bool {
	if c.inFlight.Add(1) > c.max {
		c.inFlight.Add(-1)
		return false
	}
	return true
}

// release gives a slot back.
func (c *lookupCap) release() { c.inFlight.Add(-1) }

// DefaultMaxLookupRate is the store lookups one verifier may start per
// second, on average, when VerifierConfig sets no rate: generous — above
// what one PostgreSQL serves a gateway on a small machine, so that it only
// bites on a flood of unknown keys, and a gateway restarted in front of
// many active keys warms up at the database's pace.
const DefaultMaxLookupRate = 5000

// lookupRate is a token bucket over store lookups, lock-free: GCRA, the
// generic cell rate algorithm. tat (the theoretical arrival time) is when
// the bucket would be full again, in nanoseconds of the verifier's clock;
// each lookup moves it interval later, and one that would put it more than
// burst intervals ahead of now is refused. Up to burst lookups may start
// at once; over time, one per interval.
type lookupRate struct {
	interval int64 // nanoseconds per lookup; 0: no limit
	burst    int64 // interval × the bucket's size
	tat      atomic.Int64
}

// newLookupRate returns a bucket of perSecond lookups a second, holding
// one second's worth (at least one); perSecond ≤ 0 is no limit.
func newLookupRate(perSecond float64) *lookupRate {
	r := &lookupRate{}
	if perSecond <= 0 {
		return r
	}
	r.interval = max(1, int64(float64(time.Second)/perSecond))
	r.burst = r.interval * max(1, int64(perSecond))
	return r
}

// allow takes a token at now (Unix nanoseconds), or reports that none is
// left.
func (r *lookupRate) allow(now int64) bool {
	if r.interval == 0 {
		return true
	}
	for {
		tat := r.tat.Load()
		next := max(tat, now) + r.interval
		if next-now > r.burst {
			return false
		}
		if r.tat.CompareAndSwap(tat, next) {
			return true
		}
	}
}
