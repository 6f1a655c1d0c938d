package gateway

import (
	"time"

	"go.uber.org/zap"
)

// While the change feed is down, cached keys stay valid for stale_ttl
// from the last moment it was known healthy. Requests allowed meanwhile
// are logged, at most once every staleWarnEvery.
const (
	// staleWarnLag is the feed lag from which an allowed request counts as
	// served stale: a healthy feed reports about every second.
	staleWarnLag   = 2 * time.Second
	staleWarnEvery = 5 * time.Second
)

// warnIfStale logs, rate-limited, that a key was allowed from a cache the
// change feed has not confirmed for a while. It costs a clock read and an
// atomic load while the feed is healthy.
func (rt *Runtime) warnIfStale(logger *zap.Logger) {
	if rt.stopFollow == nil {
		return // no feed: entries live by cache_ttl alone
	}
	now := rt.now()
	lag, ok := rt.verifier.FeedLag(now)
	// Past stale_ttl, an allowed key was just read from the store.
	if !ok || lag <= staleWarnLag || lag > rt.staleTTL {
		return
	}
	last := rt.staleWarnedAt.Load()
	if now.UnixNano()-last < int64(staleWarnEvery) || !rt.staleWarnedAt.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	logger.Warn("serving cached key while the change feed is down",
		zap.Duration("feed_lag", lag),
		zap.Duration("stale_ttl", rt.staleTTL))
}
