package sqlite

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
)

// FeedRetention is how long changes stay in the feed. A gateway that could
// not read the database for longer drops its whole cache when it can.
const FeedRetention = keystore.FeedRetention

// PollInterval is how often a follower reads the newest changes: SQLite
// has no NOTIFY, and this one indexed read is cheap, so a revocation made
// by another process reaches a gateway within about this time.
const PollInterval = 50 * time.Millisecond

// feedSettings tune the follower; tests shorten them.
type feedSettings struct {
	// The cursor's: each read of the feed and each pruning is bounded by
	// QueryTimeout, and a feed that stays unreadable is logged at warn
	// every StillDownEvery.
	keystore.FeedCursorConfig
	// poll is the time between two reads of the feed.
	poll time.Duration
}

func defaultFeedSettings() feedSettings {
	return feedSettings{FeedCursorConfig: keystore.DefaultFeedCursorConfig(), poll: PollInterval}
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
	return newFollower(s, v, logger.With(zap.String("database", s.path))).run(ctx)
}

// follower is the state of one Follow: the store's keystore.FeedSource,
// its cursor, and whether the database file is gone.
type follower struct {
	store  *Store
	poll   time.Duration
	cursor *keystore.FeedCursor
	v      *keystore.Verifier
	log    *zap.Logger
	gone   error // the last CheckFile failure, nil while the file is there
}

func newFollower(s *Store, v *keystore.Verifier, log *zap.Logger) *follower {
	f := &follower{store: s, poll: s.feed.poll, v: v, log: log}
	f.cursor = keystore.NewFeedCursor(f, s.feed.FeedCursorConfig, v, log)
	return f
}

func (f *follower) run(ctx context.Context) error {
	tick := time.NewTicker(f.poll)
	defer tick.Stop()
	for {
		if f.fileThere() {
			err := f.read(ctx)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			f.report(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// fileThere reports whether the store's path still names the file it
// opened (see Store.CheckFile). From the moment it does not, the verifier
// is fenced, so that every request is refused as store_unavailable, its
// cached keys too: they came from a file that no other process sees any
// more, where a revocation can no longer reach them. That is logged at
// error, with the path. The fence lifts, and the cache is dropped, when
// the path names the same file again (moved back, or linked back).
func (f *follower) fileThere() bool {
	err := f.store.CheckFile()
	switch {
	case err != nil && (f.gone == nil || err.Error() != f.gone.Error()):
		f.log.Error("key store file gone: refusing every request until it is back",
			zap.String("path", f.store.path), zap.Error(err))
		f.v.Fence(err)
	case err == nil && f.gone != nil:
		f.log.Info("key store file back: serving again, with an empty cache", zap.String("path", f.store.path))
		f.v.Unfence()
	}
	f.gone = err
	return err == nil
}

// read finds the feed's starting point if it has none yet, then applies
// the changes committed since the last read and prunes when it is time.
// A failed pruning is logged and waits for the next round: pruning is
// routine, and another gateway on the same file may be doing it.
func (f *follower) read(ctx context.Context) error {
	if !f.cursor.Started() {
		if err := f.cursor.Start(ctx, zap.Duration("poll_interval", f.poll)); err != nil {
			return err
		}
	}
	if err := f.cursor.CatchUp(ctx); err != nil {
		return err
	}
	return f.cursor.MaybePrune(ctx, nil)
}

// report logs how the last read went: a failure at warn when the feed
// becomes unreadable and every StillDownEvery while it stays so (at debug
// in between), and its recovery at info.
func (f *follower) report(err error) {
	if err != nil {
		f.cursor.Failed(err, "cannot read the change feed; retrying", "change feed still unreadable")
		return
	}
	f.cursor.Recovered("change feed readable again")
}

// FeedPosition implements keystore.FeedSource.
func (f *follower) FeedPosition(ctx context.Context) (int64, error) {
	seq, err := f.store.feedPosition(ctx)
	if err != nil {
		return 0, wrapErr("reading the change feed position", err)
	}
	return seq, nil
}

// ReadFeed implements keystore.FeedSource.
func (f *follower) ReadFeed(ctx context.Context, after int64, limit int) ([]keystore.FeedChange, int64, error) {
	b, err := f.store.readChanges(ctx, after, limit)
	if err != nil {
		return nil, 0, wrapErr("reading the change feed", err)
	}
	return b.changes, b.pruned, nil
}

// PruneFeed implements keystore.FeedSource.
func (f *follower) PruneFeed(ctx context.Context, cutoff time.Time) (int64, error) {
	return f.store.pruneFeed(ctx, cutoff)
}
