package keystore

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// FeedRetention is how long a store keeps the changes of its feed. A
// follower cut off from the store for longer drops its whole cache when it
// is back.
const FeedRetention = 24 * time.Hour

// FeedSource is a store's change feed, as a FeedCursor reads it. Each call
// runs under the cursor's query timeout, and an error it returns is logged
// as it is: it says what failed.
type FeedSource interface {
	// FeedPosition returns the sequence a new follower starts after: the
	// last change committed so far.
	FeedPosition(ctx context.Context) (int64, error)
	// ReadFeed returns, from one snapshot, at most limit changes after
	// sequence after, in order, and the sequence through which the feed
	// was pruned.
	ReadFeed(ctx context.Context, after int64, limit int) (changes []FeedChange, pruned int64, err error)
	// PruneFeed deletes the changes recorded before cutoff and returns the
	// sequence the feed is now pruned through, or 0 when nothing was
	// pruned.
	PruneFeed(ctx context.Context, cutoff time.Time) (int64, error)
}

// FeedCursorConfig tunes a FeedCursor; tests shorten it.
type FeedCursorConfig struct {
	// QueryTimeout bounds each call to the FeedSource.
	QueryTimeout time.Duration
	// StillDownEvery is how often a feed that stays down is logged at
	// warn; the failures in between log at debug.
	StillDownEvery time.Duration
	// Retention and PruneEvery: how old changes are pruned, and how often.
	Retention, PruneEvery time.Duration
	// Batch is how many changes one read returns at most.
	Batch int
	// Now is the clock of FeedHealthy and of pruning.
	Now func() time.Time
}

// DefaultFeedCursorConfig returns the settings a store's follower uses.
func DefaultFeedCursorConfig() FeedCursorConfig {
	return FeedCursorConfig{
		QueryTimeout:   3 * time.Second,
		StillDownEvery: 10 * time.Second,
		Retention:      FeedRetention,
		PruneEvery:     10 * time.Minute,
		Batch:          1000,
		Now:            time.Now,
	}
}

// FeedCursor is what every Follower does with its store's change feed:
// it keeps the position in the feed, applies the changes after it to a
// Cache with ApplyFeed, reports the feed's health, prunes old changes
// now and then, and logs the feed's outages. The follower only decides
// when to read, and how to reach the store. A FeedCursor is not safe for
// concurrent use.
type FeedCursor struct {
	src FeedSource
	cfg FeedCursorConfig
	v   Cache
	log *zap.Logger

	started bool  // last holds a position in the feed
	last    int64 // the last sequence applied

	// record, when set, writes this instance's row in the fleet table:
	// see RecordTo.
	record       func(ctx context.Context, applied int64) error
	recordEvery  time.Duration
	recorded     int64     // the sequence last recorded
	recordedAt   time.Time // when the read last recorded began
	recordedOnce bool

	downSince time.Time // when the feed failed; zero while it works
	lastWarn  time.Time // when a failure was last logged at warn
	lastPrune time.Time // when pruning was last tried
}

// NewFeedCursor returns a cursor that applies src to v, and drops what v
// holds: nothing cached before this moment is trusted. From here on the
// cache only holds reads that began after it, so stale_ttl counts from now
// even if the store never answers.
func NewFeedCursor(src FeedSource, cfg FeedCursorConfig, v Cache, log *zap.Logger) *FeedCursor {
	began := cfg.Now()
	v.DropAll()
	v.FeedHealthy(began)
	return &FeedCursor{src: src, cfg: cfg, v: v, log: log}
}

// RecordTo makes the cursor record, with record, the sequence it applied
// in the fleet table (see FleetStore): after a read that applied changes,
// and after any read when every has passed since the last record (0:
// after every read). From then on the feed is reported healthy only as of
// a read that was then recorded, and not at all until the first one, so
// that an instance whose row is stale trusts nothing cached: see the
// liveness rule in fleet.go. A failed record fails the read.
func (c *FeedCursor) RecordTo(record func(ctx context.Context, applied int64) error, every time.Duration) {
	c.record, c.recordEvery = record, every
	c.v.FeedHealthy(time.Unix(0, 1)) // long stale: nothing trusted before the first record
}

// Started reports whether the cursor has a position in the feed.
func (c *FeedCursor) Started() bool { return c.started }

// Last returns the last sequence the cursor applied.
func (c *FeedCursor) Last() int64 { return c.last }

// Down reports whether the feed failed since it was last read.
func (c *FeedCursor) Down() bool { return !c.downSince.IsZero() }

// Start sets the cursor's position to the last change committed, drops
// what the cache read before that point, and logs it with fields.
func (c *FeedCursor) Start(ctx context.Context, fields ...zap.Field) error {
	began := c.cfg.Now()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.QueryTimeout)
	defer cancel()
	seq, err := c.src.FeedPosition(ctx)
	if err != nil {
		return err
	}
	// Entries read before the position was read may predate changes at
	// or below it, which this cursor will never apply.
	c.v.DropAll()
	if c.record == nil {
		c.v.FeedHealthy(began)
	}
	c.last, c.started = seq, true
	c.log.Info("following the change feed", append([]zap.Field{zap.Int64("seq", seq)}, fields...)...)
	return nil
}

// CatchUp reads and applies every change after the last one applied, then
// reports the feed healthy as of the moment its last read began.
func (c *FeedCursor) CatchUp(ctx context.Context) error {
	for {
		began := c.cfg.Now()
		readCtx, cancel := context.WithTimeout(ctx, c.cfg.QueryTimeout)
		changes, pruned, err := c.src.ReadFeed(readCtx, c.last, c.cfg.Batch)
		cancel()
		if err != nil {
			return err
		}
		c.last = ApplyFeed(c.v, c.log, c.last, pruned, changes)
		if len(changes) < c.cfg.Batch {
			return c.healthy(ctx, began)
		}
	}
}

// healthy reports the feed healthy as of began, the start of a read that
// applied every change, after recording it in the fleet table if the
// cursor records (see RecordTo).
func (c *FeedCursor) healthy(ctx context.Context, began time.Time) error {
	if c.record == nil {
		c.v.FeedHealthy(began)
		return nil
	}
	if c.recordedOnce && c.last == c.recorded && began.Sub(c.recordedAt) < c.recordEvery {
		return nil // the last record still vouches for the cache
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.QueryTimeout)
	defer cancel()
	if err := c.record(ctx, c.last); err != nil {
		return err
	}
	c.recorded, c.recordedAt, c.recordedOnce = c.last, began, true
	c.v.FeedHealthy(began)
	return nil
}

// MaybePrune prunes the feed when PruneEvery has passed since the last
// try. A failure that broken (nil: none) says broke the follower's
// connection is returned, for the follower to reconnect. Any other is
// logged, unless ctx or the query timeout cut the pruning short, and waits
// for the next round.
func (c *FeedCursor) MaybePrune(ctx context.Context, broken func(error) bool) error {
	if !c.lastPrune.IsZero() && time.Since(c.lastPrune) < c.cfg.PruneEvery {
		return nil
	}
	c.lastPrune = time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.QueryTimeout)
	defer cancel()
	through, err := c.src.PruneFeed(ctx, c.cfg.Now().Add(-c.cfg.Retention))
	switch {
	case err != nil && broken != nil && broken(err):
		return err
	case err != nil && ctx.Err() == nil:
		c.log.Warn("cannot prune the change feed", zap.Error(err))
	case through > 0:
		c.log.Debug("change feed pruned", zap.Int64("pruned_through", through))
	}
	return nil
}

// Failed records that following the feed failed with err. The first
// failure of an outage is logged at warn as down, with the position; the
// next ones as stillDown, with how long the feed has been down and fields,
// at warn every StillDownEvery and at debug in between.
func (c *FeedCursor) Failed(err error, down, stillDown string, fields ...zap.Field) {
	now := time.Now()
	if c.downSince.IsZero() {
		c.downSince, c.lastWarn = now, now
		c.log.Warn(down, zap.Int64("seq", c.last), zap.Error(err))
		return
	}
	level := zap.DebugLevel
	if now.Sub(c.lastWarn) >= c.cfg.StillDownEvery {
		level, c.lastWarn = zap.WarnLevel, now
	}
	fields = append([]zap.Field{zap.Duration("down_for", now.Sub(c.downSince))}, fields...)
	c.log.Log(level, stillDown, append(fields, zap.Error(err))...)
}

// Recovered records that the feed is read again. After an outage it logs
// msg at info, with how long the outage lasted, and tells v with
// FeedReconnected.
func (c *FeedCursor) Recovered(msg string) {
	if c.downSince.IsZero() {
		return
	}
	c.log.Info(msg, zap.Duration("down_for", time.Since(c.downSince)), zap.Int64("seq", c.last))
	c.downSince = time.Time{}
	c.v.FeedReconnected()
}
