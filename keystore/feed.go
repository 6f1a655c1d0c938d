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

// Follower is implemented by stores that keep a change feed. Follow applies
// every change to v as it commits — Invalidate for a changed key,
// DropAll when an integration changed or the feed was pruned past what
// this instance applied — and reports the feed's health with
// v.FeedHealthy, first as soon as it starts, before any read: from then on
// the cache is bounded by StaleTTL even if the store never answers. It
// reconnects by itself and returns only when ctx ends.
type Follower interface {
	Follow(ctx context.Context, v *Verifier, logger *zap.Logger) error
}

// FleetFollower is a Follower that also records the gateway instance self
// in the store's fleet table (see FleetStore) as it applies the feed, and
// forgets it when ctx ends; the feed counts as healthy only as of a read
// it recorded (see FeedCursor.RecordTo). live, when not nil, gets the
// number of live instances after each record.
type FleetFollower interface {
	FollowAs(ctx context.Context, v *Verifier, logger *zap.Logger, self Instance, live func(int)) error
}
