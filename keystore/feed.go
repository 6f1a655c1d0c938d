package keystore

import (
	"context"

	"go.uber.org/zap"
)

// Follower is implemented by stores that keep a change feed. Follow applies
// every change to v as it commits — Invalidate for a changed key,
// DropAll when an integration changed or the feed was pruned past what
// this instance applied — and reports the feed's health with
// v.FeedHealthy. It reconnects by itself and returns only when ctx ends.
type Follower interface {
	Follow(ctx context.Context, v *Verifier, logger *zap.Logger) error
}
