package keystore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// The fleet: every gateway instance that follows a store's change feed
// records itself in the store (table keygate_gateways), with the last feed
// sequence it applied, when it applies changes and on a heartbeat — never
// on the request path, never into the feed. A change is confirmed once
// every live instance has applied its sequence.
//
// Liveness is what makes a confirmation sound. An instance trusts its
// cached keys only while its feed was healthy within its stale_ttl, and it
// reports the feed healthy only as of a read it then recorded in the fleet
// table (see FeedCursor.RecordTo): so an instance whose row was last seen
// more than its stale_ttl ago re-reads every key from the store, and
// cannot accept a key revoked there. An instance counts as live, and must
// confirm, while now − last_seen_at < stale_ttl + LivenessMargin, both
// times on the store's clock.

// LivenessMargin is added to an instance's stale_ttl before its row counts
// as stale: slack for the clocks of the store and the gateway.
const LivenessMargin = time.Second

// FleetHeartbeat is how often a following instance records itself when it
// has nothing new to apply.
const FleetHeartbeat = time.Second

// FleetRetention is how long the row of an instance not seen any more is
// kept, stale, before the store deletes it, when it prunes its feed.
const FleetRetention = FeedRetention

// Instance is one gateway process following a store, as it records itself.
type Instance struct {
	// ID is random, made at start, kept across config reloads.
	ID       string
	Hostname string
	Version  string
	// StartedAt is when the instance began following the store.
	StartedAt time.Time
	// StaleTTL is how long the instance trusts its cache after its feed
	// was last healthy: see the liveness rule above.
	StaleTTL time.Duration
}

// Gateway is an instance's row in the fleet table, as read at Fleet.Now.
type Gateway struct {
	Instance
	// AppliedSeq is the last feed sequence the instance applied.
	AppliedSeq int64
	// LastSeen is when the instance last recorded itself.
	LastSeen time.Time
	// Live: the instance may still serve from its cache, so it must
	// confirm changes; a stale one refuses what it cannot re-read.
	Live bool
}

// Fleet is the fleet table read at one moment.
type Fleet struct {
	// Now is the store's clock at the read.
	Now time.Time
	// Head is the last sequence of the change feed.
	Head int64
	// Gateways are every recorded instance, by hostname, then id.
	Gateways []Gateway
}

// Lag returns how many changes of the feed g has not applied yet.
func (f Fleet) Lag(g Gateway) int64 { return max(0, f.Head-g.AppliedSeq) }

// FleetStore is implemented by stores that keep the fleet table. Every
// method works on a database another process writes the rows of.
type FleetStore interface {
	// RecordGateway writes self's row: applied is the last sequence it
	// applied, last_seen_at the store's now. It returns how many
	// instances are live, self included.
	RecordGateway(ctx context.Context, self Instance, applied int64) (live int, err error)
	// ForgetGateway deletes the row of the instance with this id, when an
	// instance stops; an unknown id is no error.
	ForgetGateway(ctx context.Context, id string) error
	// Fleet reads the fleet table and the feed's head.
	Fleet(ctx context.Context) (Fleet, error)
	// FeedHead returns the last sequence of the change feed: read after a
	// change commits, what confirming the change waits for.
	FeedHead(ctx context.Context) (int64, error)
	// WatchFleet calls done with the fleet now, then each time it may have
	// changed (a row written, or a moment passed, as the store can tell),
	// until done returns true or ctx ends: then it returns ctx.Err().
	WatchFleet(ctx context.Context, done func(Fleet) bool) error
}

// ForgetOnStop deletes the row of the instance with this id once its
// follower returned, so that a cleanly stopped gateway leaves no stale
// instance behind. ctx may be done already: the delete gets a second of
// its own. A failure is logged, not returned: the row ages out.
func ForgetOnStop(ctx context.Context, fs FleetStore, id string, logger *zap.Logger) {
	forgetCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := fs.ForgetGateway(forgetCtx, id); err != nil {
		logger.Warn("cannot remove this gateway from keygate_gateways", zap.Error(err))
	}
}

// Confirmation is how far a change has reached the fleet.
type Confirmation struct {
	// Seq is the feed sequence confirmed.
	Seq int64
	// Live instances when the wait ended, and how many of them had
	// applied Seq.
	Live, Confirmed int
	// Missing are the live instances that had not.
	Missing []Gateway
	// Elapsed is how long the wait took.
	Elapsed time.Duration
	// Now is the store's clock at the last read of the fleet.
	Now time.Time
}

// Done reports whether every live instance applied the change.
func (c Confirmation) Done() bool { return c.Confirmed == c.Live }

// ErrNoFleet says the store keeps no fleet table.
var ErrNoFleet = errors.New("this key store keeps no fleet of gateways")

// confirmation returns how far seq has reached the fleet f.
func confirmation(f Fleet, seq int64) Confirmation {
	c := Confirmation{Seq: seq, Now: f.Now}
	for _, g := range f.Gateways {
		if !g.Live {
			continue
		}
		c.Live++
		if g.AppliedSeq >= seq {
			c.Confirmed++
		} else {
			c.Missing = append(c.Missing, g)
		}
	}
	return c
}

// Confirm waits until every live instance of s's fleet has applied feed
// sequence seq, or until wait has passed, and returns how far it got: a
// Confirmation that is not Done when wait ran out. Zero live instances is
// a Done confirmation of 0/0: nothing can accept a changed key. now is the
// clock of Elapsed (nil: time.Now).
func Confirm(ctx context.Context, s Store, seq int64, wait time.Duration, now func() time.Time) (Confirmation, error) {
	fs, ok := s.(FleetStore)
	if !ok {
		return Confirmation{}, ErrNoFleet
	}
	if now == nil {
		now = time.Now
	}
	start := now()
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var last Confirmation
	seen := false
	err := fs.WatchFleet(ctx, func(f Fleet) bool {
		last, seen = confirmation(f, seq), true
		return last.Done()
	})
	last.Elapsed = now().Sub(start)
	switch {
	case err == nil:
		return last, nil
	case seen && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return last, nil // wait ran out: last says who is missing
	}
	return last, fmt.Errorf("waiting for the gateways to apply change %d: %w", seq, err)
}
