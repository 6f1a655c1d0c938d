package sqlite

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
)

// FeedRetention is how long changes stay in the feed. A gateway that could
// not read the database for longer drops its whole cache when it can.
const FeedRetention = 24 * time.Hour

// PollInterval is how often a follower reads the newest changes: SQLite
// has no NOTIFY, and this one indexed read is cheap, so a revocation made
// by another process reaches a gateway within about this time.
const PollInterval = 50 * time.Millisecond

// feedSettings tune the follower; tests shorten them.
type feedSettings struct {
	// poll is the time between two reads of the feed.
	poll time.Duration
	// queryTimeout bounds each read of the feed and each pruning.
	queryTimeout time.Duration
	// stillDownEvery is how often a feed that stays unreadable is logged
	// at warn; the failures in between log at debug.
	stillDownEvery time.Duration
	// retention and pruneEvery: how old changes are pruned, and how often.
	retention, pruneEvery time.Duration
	// batch is how many changes one read returns at most.
	batch int
	// now is the clock of FeedHealthy and of pruning.
	now func() time.Time
}

func defaultFeedSettings() feedSettings {
	return feedSettings{
		poll:           PollInterval,
		queryTimeout:   3 * time.Second,
		stillDownEvery: 10 * time.Second,
		retention:      FeedRetention,
		pruneEvery:     10 * time.Minute,
		batch:          1000,
		now:            time.Now,
	}
}

// Follow applies the change feed to v until ctx ends, implementing
// keystore.Follower, and returns ctx's error.
//
// Every PollInterval it reads the changes after the last one it applied,
// in one indexed read of the feed, applies them in order (v.Invalidate for
// a key, v.DropAll for an integration) and reports v.FeedHealthy as of the
// moment that read began. If the feed was pruned past the last applied
// sequence, it drops the whole cache. A read that fails is logged and
// tried again at the next tick; meanwhile the feed is not reported
// healthy, so cached entries age out after the verifier's StaleTTL.
//
// Follow starts by dropping what v holds, read before the feed's starting
// point was known, and starts from the last change committed. It also
// prunes changes older than FeedRetention now and then.
func (s *Store) Follow(ctx context.Context, v *keystore.Verifier, logger *zap.Logger) error {
	f := &follower{store: s, cfg: s.feed, v: v, log: logger.With(zap.String("database", s.path))}
	return f.run(ctx)
}

// follower is the state of one Follow.
type follower struct {
	store *Store
	cfg   feedSettings
	v     *keystore.Verifier
	log   *zap.Logger

	started bool  // last holds a position in the feed
	last    int64 // the last sequence applied

	downSince time.Time // when reading the feed began to fail; zero while it works
	lastWarn  time.Time // when a failure was last logged at warn
	lastPrune time.Time // when pruning was last tried
}

func (f *follower) run(ctx context.Context) error {
	// Nothing cached before this moment is trusted: from here on the
	// cache only holds reads that began after it, so stale_ttl counts
	// from now even if the database never answers.
	began := f.cfg.now()
	f.v.DropAll()
	f.v.FeedHealthy(began)

	tick := time.NewTicker(f.cfg.poll)
	defer tick.Stop()
	for {
		err := f.poll(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f.report(err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// poll finds the feed's starting point if it has none yet, then applies
// the changes committed since the last poll and prunes when it is time.
func (f *follower) poll(ctx context.Context) error {
	if !f.started {
		if err := f.start(ctx); err != nil {
			return err
		}
	}
	if err := f.catchUp(ctx); err != nil {
		return err
	}
	f.maybePrune(ctx)
	return nil
}

// start sets the follower's position to the last change committed, and
// drops what the cache read before that point.
func (f *follower) start(ctx context.Context) error {
	began := f.cfg.now()
	ctx, cancel := context.WithTimeout(ctx, f.cfg.queryTimeout)
	defer cancel()
	seq, err := f.store.feedPosition(ctx)
	if err != nil {
		return wrapErr("reading the change feed position", err)
	}
	// Entries read before the position was read may predate changes at
	// or below it, which this follower will never apply.
	f.v.DropAll()
	f.v.FeedHealthy(began)
	f.last, f.started = seq, true
	f.log.Info("following the change feed", zap.Int64("seq", seq), zap.Duration("poll_interval", f.cfg.poll))
	return nil
}

// catchUp reads and applies every change after the last one applied, then
// reports the feed healthy as of the moment its last read began.
func (f *follower) catchUp(ctx context.Context) error {
	for {
		began := f.cfg.now()
		readCtx, cancel := context.WithTimeout(ctx, f.cfg.queryTimeout)
		b, err := f.store.readChanges(readCtx, f.last, f.cfg.batch)
		cancel()
		if err != nil {
			return wrapErr("reading the change feed", err)
		}
		f.last = keystore.ApplyFeed(f.v, f.log, f.last, b.pruned, b.changes)
		if len(b.changes) < f.cfg.batch {
			f.v.FeedHealthy(began)
			return nil
		}
	}
}

// maybePrune prunes the feed when pruneEvery has passed since the last
// try. A failure is logged and waits for the next round: pruning is
// routine, and another gateway on the same file may be doing it.
func (f *follower) maybePrune(ctx context.Context) {
	if !f.lastPrune.IsZero() && time.Since(f.lastPrune) < f.cfg.pruneEvery {
		return
	}
	f.lastPrune = time.Now()
	ctx, cancel := context.WithTimeout(ctx, f.cfg.queryTimeout)
	defer cancel()
	through, err := f.store.pruneFeed(ctx, f.cfg.now().Add(-f.cfg.retention))
	switch {
	case err != nil && ctx.Err() == nil:
		f.log.Warn("cannot prune the change feed", zap.Error(err))
	case through > 0:
		f.log.Debug("change feed pruned", zap.Int64("pruned_through", through))
	}
}

// report logs how the last poll went: a failure at warn when the feed
// becomes unreadable and every stillDownEvery while it stays so (at debug
// in between), and its recovery at info.
func (f *follower) report(err error) {
	now := time.Now()
	switch {
	case err == nil && f.downSince.IsZero():
	case err == nil:
		f.log.Info("change feed readable again", zap.Duration("down_for", now.Sub(f.downSince)), zap.Int64("seq", f.last))
		f.downSince = time.Time{}
		f.v.FeedReconnected()
	case f.downSince.IsZero():
		f.downSince, f.lastWarn = now, now
		f.log.Warn("cannot read the change feed; retrying", zap.Int64("seq", f.last), zap.Error(err))
	default:
		level := zap.DebugLevel
		if now.Sub(f.lastWarn) >= f.cfg.stillDownEvery {
			level, f.lastWarn = zap.WarnLevel, now
		}
		f.log.Log(level, "change feed still unreadable", zap.Duration("down_for", now.Sub(f.downSince)), zap.Error(err))
	}
}
