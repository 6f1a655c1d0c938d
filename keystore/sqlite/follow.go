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

// PollInterval is how often a follower looks for a commit: SQLite has no
// NOTIFY, but the WAL-index header in the -shm file changes on every
// commit, and reading it costs a system call (see walWatch), so a
// revocation made by another process reaches a gateway within about this
// time. The follower reads the feed itself when the header changed, and
// every ReadInterval anyway.
const PollInterval = 10 * time.Millisecond

// ReadInterval is the longest a follower goes without reading the feed.
const ReadInterval = 50 * time.Millisecond

// feedSettings tune the follower; tests shorten them.
type feedSettings struct {
	// The cursor's: each read of the feed and each pruning is bounded by
	// QueryTimeout, and a feed that stays unreadable is logged at warn
	// every StillDownEvery.
	keystore.FeedCursorConfig
	// poll is the time between two looks for a commit, readEvery the
	// longest between two reads of the feed.
	poll, readEvery time.Duration
	// heartbeat is how often FollowAs records the instance when nothing
	// changed.
	heartbeat time.Duration
}

func defaultFeedSettings() feedSettings {
	return feedSettings{FeedCursorConfig: keystore.DefaultFeedCursorConfig(), poll: PollInterval,
		readEvery: ReadInterval, heartbeat: keystore.FleetHeartbeat}
}

// Follow implements keystore.Follower, whose contract it keeps; it
// returns ctx's error.
//
// Every PollInterval it looks at the WAL-index header for a commit, and
// when there was one (or ReadInterval passed) it reads the changes after
// the last one it applied, in one indexed read of the feed. A read that fails is logged and tried
// again at the next tick; meanwhile the feed is not reported healthy, so
// cached entries age out after the cache's stale TTL. It prunes changes
// older than FeedRetention now and then.
func (s *Store) Follow(ctx context.Context, c keystore.Cache, logger *zap.Logger) error {
	return newFollower(s, c, logger.With(zap.String("database", s.path))).run(ctx)
}

// FollowAs is Follow for gateway instance self, which it records in the
// fleet table (keystore.FleetStore) after each read that applied changes
// and every keystore.FleetHeartbeat, and forgets when ctx ends. live, when
// not nil, gets the number of live instances after each record.
func (s *Store) FollowAs(ctx context.Context, c keystore.Cache, logger *zap.Logger, self keystore.Instance, live func(int)) error {
	logger = logger.With(zap.String("database", s.path))
	f := newFollower(s, c, logger)
	f.cursor.RecordTo(func(ctx context.Context, applied int64) error {
		n, err := s.RecordGateway(ctx, self, applied)
		if err == nil && live != nil {
			live(n)
		}
		return err
	}, s.feed.heartbeat)
	err := f.run(ctx)
	keystore.ForgetOnStop(ctx, s, self.ID, logger)
	return err
}

// follower is the state of one Follow: the store's keystore.FeedSource,
// its cursor, and whether the database file is gone.
type follower struct {
	store *Store
	// poll is how often it looks for a change, readEvery how often it
	// reads the feed (and checks the file) even if it saw none.
	poll, readEvery time.Duration
	cursor          *keystore.FeedCursor
	cache           keystore.Cache
	log             *zap.Logger
	gone            error // the last CheckFile failure, nil while the file is there
}

func newFollower(s *Store, c keystore.Cache, log *zap.Logger) *follower {
	f := &follower{store: s, poll: s.feed.poll, readEvery: s.feed.readEvery, cache: c, log: log}
	f.cursor = keystore.NewFeedCursor(f, s.feed.FeedCursorConfig, c, log)
	return f
}

// fileThere reports whether the store's path still names the file it
// opened (see Store.CheckFile). From the moment it does not, the cache is
// fenced (keystore.Fencer), so that every request is refused as
// store_unavailable, its cached keys too: they came from a file that no
// other process sees any more, where a revocation can no longer reach
// them; and the store's own lookups fail. That is logged at error, with
// the path. The fence lifts, and the cache is dropped, when the path
// names the same file again (moved back, or linked back).
func (f *follower) fileThere() bool {
	err := f.store.CheckFile()
	fence, _ := f.cache.(keystore.Fencer)
	switch {
	case err != nil && (f.gone == nil || err.Error() != f.gone.Error()):
		f.log.Error("key store file gone: refusing every request until it is back",
			zap.String("path", f.store.path), zap.Error(err))
		f.store.gone.Store(&err)
		if fence != nil {
			fence.Fence(err)
		}
		f.cache.DropAll()
	case err == nil && f.gone != nil:
		f.log.Info("key store file back: serving again, with an empty cache", zap.String("path", f.store.path))
		f.store.gone.Store(nil)
		if fence != nil {
			fence.Unfence()
		}
		f.cache.DropAll()
	}
	f.gone = err
	return err == nil
}

func (f *follower) run(ctx context.Context) error {
	tick := time.NewTicker(f.poll)
	defer tick.Stop()
	wal := newWALWatch(f.store.path)
	defer wal.close()
	var lastRead time.Time
	for {
		// A read costs a query; the WAL header tells for a system call
		// whether there may be anything to read.
		if wal.changed() || time.Since(lastRead) >= f.readEvery {
			lastRead = time.Now()
			if f.fileThere() {
				err := f.read(ctx)
				if ctx.Err() != nil {
					return ctx.Err()
				}
				f.report(err)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
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
