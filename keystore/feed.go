package keystore

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// DefaultFeedTTL is the cache TTL to use in front of a store that keeps a
// change feed: revocations arrive through the feed, and the TTL is only a
// safety backstop.
const DefaultFeedTTL = 10 * time.Minute

// Cache is what a change feed is applied to: a gateway's cache of
// credentials (verify.Verifier is one). Its methods must be safe for
// concurrent use.
type Cache interface {
	// Invalidate makes the cached entry of hash a miss at once, including
	// one whose store read is still in flight.
	Invalidate(hash Hash)
	// DropAll makes every cached entry a miss.
	DropAll()
	// FeedHealthy records that every change committed before `at` has
	// been applied. From its first call on, cached entries are trusted
	// only while the last such time is recent.
	FeedHealthy(at time.Time)
	// FeedReconnected records, for metrics, that the feed works again
	// after failing.
	FeedReconnected()
}

// Fencer is implemented by a Cache that can refuse every key at once,
// cached or not: a Follower whose store knows that neither it nor what was
// cached from it can be trusted any more (an embedded database whose file
// was removed, say) fences the cache until they can. Fence's err should
// wrap ErrStoreUnavailable; Unfence lifts the fence.
type Fencer interface {
	Fence(err error)
	Unfence()
}

// Follower is implemented by stores that keep a change feed. Follow applies
// every change to c as it commits — Invalidate for a changed key, DropAll
// when an integration changed or the feed was pruned past what this
// instance applied — and reports the feed's health with c.FeedHealthy,
// first as soon as it starts, before any read: from then on the cache is
// bounded by its stale TTL even if the store never answers. It reconnects
// by itself, and returns only when ctx ends. storetest.RunFeed checks this
// contract.
type Follower interface {
	Follow(ctx context.Context, c Cache, logger *zap.Logger) error
}

// FleetFollower is a Follower that also records the gateway instance self
// in the store's fleet table (see FleetStore) as it applies the feed, and
// forgets it when ctx ends; the feed counts as healthy only as of a read
// it recorded (see FeedCursor.RecordTo). live, when not nil, gets the
// number of live instances after each record.
type FleetFollower interface {
	FollowAs(ctx context.Context, c Cache, logger *zap.Logger, self Instance, live func(int)) error
}
