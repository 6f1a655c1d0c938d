package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
)

// FeedRetention is how long changes stay in the feed. An instance cut off
// from the database for longer drops its whole cache when it is back.
const FeedRetention = 24 * time.Hour

// FeedApplicationName is the application_name of the change feed's
// connection, for pg_stat_activity; a database URL that sets one gets
// "-feed" appended to it instead.
const FeedApplicationName = "keygate-feed"

// feedSettings tune the follower; tests shorten them.
type feedSettings struct {
	// heartbeat is the longest the follower waits for a notification
	// before reading the feed anyway, which tells it the connection is
	// alive and keeps FeedHealthy current.
	heartbeat time.Duration
	// queryTimeout bounds each read of the feed: a connection that went
	// silent is noticed within heartbeat + queryTimeout.
	queryTimeout time.Duration
	// connectTimeout bounds each connection attempt, at most; the URL's
	// connect_timeout applies when shorter.
	connectTimeout time.Duration
	// minBackoff and maxBackoff bound the wait between connection
	// attempts, which doubles from one to the other.
	minBackoff, maxBackoff time.Duration
	// stillDownEvery is how often a failed reconnection is logged at warn
	// while the feed stays down; the others log at debug.
	stillDownEvery time.Duration
	// retention and pruneEvery: how old changes are pruned, and how often.
	retention, pruneEvery time.Duration
	// batch is how many changes one read returns at most.
	batch int
	// now is the clock of FeedHealthy and of pruning.
	now func() time.Time
	// beforeConnect, when set, runs before each connection attempt; an
	// error fails the attempt. Tests hold reconnections with it.
	beforeConnect func(context.Context) error
}

func defaultFeedSettings() feedSettings {
	return feedSettings{
		heartbeat:      time.Second,
		queryTimeout:   3 * time.Second,
		connectTimeout: 5 * time.Second,
		minBackoff:     50 * time.Millisecond,
		maxBackoff:     time.Second,
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
// It runs on one connection of its own, never the pool's: it LISTENs, then
// reads the feed from the last sequence it applied and applies each change
// (v.Invalidate for a key, v.DropAll for an integration), and does so again
// on every notification, and at least every second: that read is the
// heartbeat, bounded by a deadline, and each successful one reports
// v.FeedHealthy. When the connection fails it reconnects, with a backoff
// capped at one second, LISTENs first and then catches up from the last
// applied sequence, so nothing committed meanwhile is lost. If the feed was
// pruned past that sequence, it drops the whole cache.
//
// Follow starts by dropping what v holds, read before the feed's starting
// point was known, and starts from the last change committed. It also
// prunes changes older than FeedRetention now and then.
func (s *Store) Follow(ctx context.Context, v *keystore.Verifier, logger *zap.Logger) error {
	f := &follower{store: s, cfg: s.feed, v: v, log: logger}
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

	upSince   time.Time // when the feed was last connected and caught up
	downSince time.Time // when the feed connection failed; zero while up
	attempts  int       // failed connection attempts since downSince
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

	backoff := time.Duration(0)
	for {
		err := f.session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		next := min(max(2*backoff, f.cfg.minBackoff), f.cfg.maxBackoff)
		if f.downSince.IsZero() {
			// The connection was up, or never tried: a fresh outage.
			f.downSince, f.attempts, f.lastWarn = time.Now(), 0, time.Now()
			msg := "change feed connection lost; reconnecting"
			if !f.started {
				msg = "cannot connect to the change feed; retrying"
			}
			f.log.Warn(msg, zap.Int64("seq", f.last), zap.Error(err))
			// After a connection that lasted, try again at once: a
			// terminated backend is usually back in a moment. One that
			// keeps failing as soon as it is up backs off all the same.
			if time.Since(f.upSince) >= f.cfg.maxBackoff {
				next = 0
			}
		} else {
			f.attempts++
			f.logStillDown(err)
		}
		backoff = next
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
}

// logStillDown logs a failed reconnection: at warn every stillDownEvery,
// at debug in between.
func (f *follower) logStillDown(err error) {
	level := zap.DebugLevel
	if time.Since(f.lastWarn) >= f.cfg.stillDownEvery {
		level, f.lastWarn = zap.WarnLevel, time.Now()
	}
	f.log.Log(level, "change feed still down",
		zap.Duration("down_for", time.Since(f.downSince)),
		zap.Int("attempts", f.attempts),
		zap.Error(err))
}

// up records that the feed is connected and caught up.
func (f *follower) up() {
	f.upSince = time.Now()
	if f.downSince.IsZero() {
		return
	}
	f.log.Info("change feed reconnected",
		zap.Duration("down_for", time.Since(f.downSince)),
		zap.Int64("seq", f.last))
	f.downSince = time.Time{}
	f.v.FeedReconnected()
}

// session connects, catches up and follows the feed until the connection
// fails or ctx ends.
func (f *follower) session(ctx context.Context) error {
	conn, err := f.connect(ctx)
	if err != nil {
		return err
	}
	defer closeQuietly(ctx, conn)
	// LISTEN before reading: a change committed after the read below is
	// then notified, one committed before it is read.
	if err := f.query(ctx, "listening", func(ctx context.Context) error {
		_, err := conn.Exec(ctx, "LISTEN "+feedChannel)
		return err
	}); err != nil {
		return err
	}
	if !f.started {
		if err := f.start(ctx, conn); err != nil {
			return err
		}
	}
	if err := f.catchUp(ctx, conn); err != nil {
		return err
	}
	f.up()

	wake := time.Now().Add(f.cfg.heartbeat)
	for {
		if err := f.maybePrune(ctx, conn); err != nil {
			return err
		}
		waitCtx, cancel := context.WithDeadline(ctx, wake)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
			if !f.news(n) && time.Now().Before(wake) {
				continue // nothing new: keep waiting for the heartbeat
			}
		case !pgconn.Timeout(err) && !errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("waiting for change notifications: %w", err)
		}
		if err := f.catchUp(ctx, conn); err != nil {
			return err
		}
		wake = time.Now().Add(f.cfg.heartbeat)
	}
}

// connect opens the follower's own connection, with keepalives and a TCP
// user timeout so that a dead peer is noticed, and an application_name
// that tells it apart in pg_stat_activity.
func (f *follower) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg := f.store.connConfig.Copy()
	where := describe(cfg.Config)
	if f.cfg.beforeConnect != nil {
		if err := f.cfg.beforeConnect(ctx); err != nil {
			return nil, fmt.Errorf("connecting to %s for the change feed: %w", where, err)
		}
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > f.cfg.connectTimeout {
		cfg.ConnectTimeout = f.cfg.connectTimeout
	}
	cfg.DialFunc = feedDialer(cfg.ConnectTimeout).DialContext
	name := FeedApplicationName
	if own := cfg.RuntimeParams["application_name"]; own != "" {
		name = own + "-feed"
	}
	cfg.RuntimeParams["application_name"] = name
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s for the change feed: %w", where, err)
	}
	if err := f.query(ctx, "setting up the session", func(ctx context.Context) error {
		_, err := conn.Exec(ctx, feedSessionSQL)
		return err
	}); err != nil {
		closeQuietly(ctx, conn)
		return nil, err
	}
	return conn, nil
}

// feedSessionSQL makes the server, too, give up on a follower that
// vanished: a backend that LISTENs for a client that no longer reads holds
// back the server's notification queue. Keepalives and, from PostgreSQL 12,
// a TCP user timeout end it within seconds; and no transaction of the
// follower's may stay open.
const feedSessionSQL = `SELECT
	set_config('tcp_keepalives_idle', '5', false),
	set_config('tcp_keepalives_interval', '2', false),
	set_config('tcp_keepalives_count', '3', false),
	set_config('idle_in_transaction_session_timeout', '10s', false),
	CASE WHEN current_setting('server_version_num')::int >= 120000
		THEN set_config('tcp_user_timeout', '10000', false) END`

// closeQuietly closes conn, waiting a second at most.
func closeQuietly(ctx context.Context, conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// query runs one statement of the follower's under queryTimeout.
func (f *follower) query(ctx context.Context, what string, run func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.queryTimeout)
	defer cancel()
	if err := run(ctx); err != nil {
		return fmt.Errorf("change feed: %s: %w", what, err)
	}
	return nil
}

// start sets the follower's position to the last change committed, and
// drops what the cache read before that point.
func (f *follower) start(ctx context.Context, conn *pgx.Conn) error {
	began := f.cfg.now()
	var seq int64
	if err := f.query(ctx, "reading the feed position", func(ctx context.Context) (err error) {
		seq, err = feedPosition(ctx, conn)
		return err
	}); err != nil {
		return err
	}
	// Entries read before the position was read may predate changes at
	// or below it, which this follower will never apply.
	f.v.DropAll()
	f.v.FeedHealthy(began)
	f.last, f.started = seq, true
	f.log.Info("following the change feed", zap.Int64("seq", seq))
	return nil
}

// news reports whether notification n may announce a change not applied
// yet. The payload is only a hint: anything but an old sequence means
// "read the feed".
func (f *follower) news(n *pgconn.Notification) bool {
	if n == nil || n.Channel != feedChannel {
		return false
	}
	seq, err := strconv.ParseInt(n.Payload, 10, 64)
	return err != nil || seq > f.last
}

// catchUp reads and applies every change after the last one applied, then
// reports the feed healthy as of the moment its last read began.
func (f *follower) catchUp(ctx context.Context, conn *pgx.Conn) error {
	for {
		began := f.cfg.now()
		var b feedBatch
		if err := f.query(ctx, "reading changes", func(ctx context.Context) (err error) {
			b, err = readChanges(ctx, conn, f.last, f.cfg.batch)
			return err
		}); err != nil {
			return err
		}
		f.last = keystore.ApplyFeed(f.v, f.log, f.last, b.pruned, b.changes)
		if len(b.changes) < f.cfg.batch {
			f.v.FeedHealthy(began)
			return nil
		}
	}
}

// maybePrune prunes the feed when pruneEvery has passed since the last
// try. Only a broken connection is an error: an SQL error is logged and
// waits for the next round.
func (f *follower) maybePrune(ctx context.Context, conn *pgx.Conn) error {
	if !f.lastPrune.IsZero() && time.Since(f.lastPrune) < f.cfg.pruneEvery {
		return nil
	}
	f.lastPrune = time.Now()
	var through int64
	err := f.query(ctx, "pruning", func(ctx context.Context) (err error) {
		through, err = pruneFeed(ctx, conn, f.cfg.now().Add(-f.cfg.retention))
		return err
	})
	switch {
	case err != nil && (conn.IsClosed() || unavailable(err)):
		return err
	case err != nil:
		f.log.Warn("cannot prune the change feed", zap.Error(err))
	case through > 0:
		f.log.Debug("change feed pruned", zap.Int64("pruned_through", through))
	}
	return nil
}
