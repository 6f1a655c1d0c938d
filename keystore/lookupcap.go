package keystore

import (
	"fmt"
	"sync/atomic"
)

// DefaultMaxConcurrentLookups bounds the store lookups under way at once
// in one verifier when VerifierConfig sets no bound: well above what a
// pool of database connections serves at once, so that legitimate cold
// keys queue briefly, while a flood of unknown keys gets fast 503s
// instead of an ever longer queue in front of the database.
const DefaultMaxConcurrentLookups = 64

// ErrLookupsBusy is returned by Verify when a key needs the store and
// MaxConcurrentLookups lookups are already under way. It wraps
// ErrStoreUnavailable: the client should retry shortly.
var ErrLookupsBusy = fmt.Errorf("%w: too many concurrent store lookups", ErrStoreUnavailable)

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
