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
const FeedRetention = keystore.FeedRetention

// FeedApplicationName is the application_name of the change feed's
// connection, for pg_stat_activity; a database URL that sets one gets
// "-feed" appended to it instead.
const FeedApplicationName = "keygate-feed"

// feedSettings tune the follower; tests shorten them.
type feedSettings struct {
	// The cursor's: QueryTimeout bounds each read of the feed, so that a
	// connection that went silent is noticed within heartbeat +
	// QueryTimeout; a failed reconnection is logged at warn every
	// StillDownEvery while the feed stays down, at debug in between.
	keystore.FeedCursorConfig
	// heartbeat is the longest the follower waits for a notification
	// before reading the feed anyway, which tells it the connection is
	// alive and keeps FeedHealthy current.
	heartbeat time.Duration
	// connectTimeout bounds each connection attempt, at most; the URL's
	// connect_timeout applies when shorter.
	connectTimeout time.Duration
	// minBackoff and maxBackoff bound the wait between connection
	// attempts, which doubles from one to the other.
	minBackoff, maxBackoff time.Duration
	// beforeConnect, when set, runs before each connection attempt; an
	// error fails the attempt. Tests hold reconnections with it.
	beforeConnect func(context.Context) error
}

func defaultFeedSettings() feedSettings {
	return feedSettings{
		FeedCursorConfig: keystore.DefaultFeedCursorConfig(),
		heartbeat:        time.Second,
		connectTimeout:   5 * time.Second,
		minBackoff:       50 * time.Millisecond,
		maxBackoff:       time.Second,
	}
}

// Follow implements keystore.Follower, whose contract it keeps; it
// returns ctx's error.
//
// It runs on one connection of its own, never the pool's: it LISTENs, then
// catches up from the last sequence it applied, and does so again on every
// notification and at least every second: that read is the heartbeat,
// bounded by a deadline. When the connection fails it reconnects, with a
// backoff capped at one second, LISTENs first and then catches up, so
// nothing committed meanwhile is lost. It prunes changes older than
// FeedRetention now and then.
func (s *Store) Follow(ctx context.Context, c keystore.Cache, logger *zap.Logger) error {
	f := &follower{store: s, cfg: s.feed}
	f.cursor = keystore.NewFeedCursor(f, s.feed.FeedCursorConfig, c, logger)
	return f.run(ctx)
}

// FollowAs is Follow for gateway instance self, which it records in the
// fleet table (keystore.FleetStore) on the feed's own connection after
// every read of the feed — each notification and each heartbeat — and
// forgets when ctx ends. live, when not nil, gets the number of live
// instances after each record.
func (s *Store) FollowAs(ctx context.Context, c keystore.Cache, logger *zap.Logger, self keystore.Instance, live func(int)) error {
	f := &follower{store: s, cfg: s.feed}
	f.cursor = keystore.NewFeedCursor(f, s.feed.FeedCursorConfig, c, logger)
	f.cursor.RecordTo(func(ctx context.Context, applied int64) error {
		n, err := recordGateway(ctx, f.conn, self, applied)
		if err == nil && live != nil {
			live(n)
		}
		return feedErr("recording this gateway", err)
	}, 0)
	err := f.run(ctx)
	keystore.ForgetOnStop(ctx, s, self.ID, logger)
	return err
}

// follower is the state of one Follow: its connection, which is the
// store's keystore.FeedSource, and its cursor.
type follower struct {
	store  *Store
	cfg    feedSettings
	cursor *keystore.FeedCursor
	conn   *pgx.Conn // the current session's

	upSince  time.Time // when the feed was last connected and caught up
	attempts int       // failed connection attempts since the feed went down
}

func (f *follower) run(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		err := f.session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		next := min(max(2*backoff, f.cfg.minBackoff), f.cfg.maxBackoff)
		if !f.cursor.Down() {
			// The connection was up, or never tried: a fresh outage.
			f.attempts = 0
			// After a connection that lasted, try again at once: a
			// terminated backend is usually back in a moment. One that
			// keeps failing as soon as it is up backs off all the same.
			if time.Since(f.upSince) >= f.cfg.maxBackoff {
				next = 0
			}
		} else {
			f.attempts++
		}
		f.report(err)
		backoff = next
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
}

// report logs a failed session: at warn when the feed goes down, then
// each failed reconnection at warn every StillDownEvery, at debug in
// between.
func (f *follower) report(err error) {
	down := "change feed connection lost; reconnecting"
	if !f.cursor.Started() {
		down = "cannot connect to the change feed; retrying"
	}
	f.cursor.Failed(err, down, "change feed still down", zap.Int("attempts", f.attempts))
}

// up records that the feed is connected and caught up.
func (f *follower) up() {
	f.upSince = time.Now()
	f.cursor.Recovered("change feed reconnected")
}

// session connects, catches up and follows the feed until the connection
// fails or ctx ends.
func (f *follower) session(ctx context.Context) error {
	conn, err := f.connect(ctx)
	if err != nil {
		return err
	}
	defer closeQuietly(ctx, conn)
	f.conn = conn
	// LISTEN before reading: a change committed after the read below is
	// then notified, one committed before it is read.
	if err := f.query(ctx, "listening", func(ctx context.Context) error {
		_, err := conn.Exec(ctx, "LISTEN "+feedChannel)
		return err
	}); err != nil {
		return err
	}
	if !f.cursor.Started() {
		if err := f.cursor.Start(ctx); err != nil {
			return err
		}
	}
	if err := f.cursor.CatchUp(ctx); err != nil {
		return err
	}
	f.up()

	wake := time.Now().Add(f.cfg.heartbeat)
	for {
		if err := f.cursor.MaybePrune(ctx, f.broken); err != nil {
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
		if err := f.cursor.CatchUp(ctx); err != nil {
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

// query runs one statement of the follower's under QueryTimeout.
func (f *follower) query(ctx context.Context, what string, run func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.QueryTimeout)
	defer cancel()
	return feedErr(what, run(ctx))
}

// feedErr says which of the follower's statements failed, if err is not
// nil.
func feedErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("change feed: %s: %w", what, err)
}

// news reports whether notification n may announce a change not applied
// yet. The payload is only a hint: anything but an old sequence means
// "read the feed".
func (f *follower) news(n *pgconn.Notification) bool {
	if n == nil || n.Channel != feedChannel {
		return false
	}
	seq, err := strconv.ParseInt(n.Payload, 10, 64)
	return err != nil || seq > f.cursor.Last()
}

// FeedPosition implements keystore.FeedSource on the session's
// connection.
func (f *follower) FeedPosition(ctx context.Context) (int64, error) {
	seq, err := feedPosition(ctx, f.conn)
	return seq, feedErr("reading the feed position", err)
}

// ReadFeed implements keystore.FeedSource on the session's connection.
func (f *follower) ReadFeed(ctx context.Context, after int64, limit int) ([]keystore.FeedChange, int64, error) {
	b, err := readChanges(ctx, f.conn, after, limit)
	return b.changes, b.pruned, feedErr("reading changes", err)
}

// PruneFeed implements keystore.FeedSource on the session's connection.
func (f *follower) PruneFeed(ctx context.Context, cutoff time.Time) (int64, error) {
	through, err := pruneFeed(ctx, f.conn, cutoff)
	return through, feedErr("pruning", err)
}

// broken reports whether a failed pruning broke the session's connection:
// an SQL error does not, and waits for the next round.
func (f *follower) broken(err error) bool {
	return f.conn.IsClosed() || unavailable(err)
}
