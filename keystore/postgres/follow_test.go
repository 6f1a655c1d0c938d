package postgres

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap/zapcore"

	"github.com/keygate/keygate/internal/pgtest"
	"github.com/keygate/keygate/internal/poll"
	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/keystore/storetest"
)

func TestFollowAppliesChanges(t *testing.T) {
	t.Parallel()
	s := openWeather(t)
	revoked, deleted, kept := addKey(t, s, "weather"), addKey(t, s, "weather"), addKey(t, s, "weather")
	f := follow(t, s, s, nil)

	for _, k := range []keystore.NewKey{revoked, deleted, kept} {
		f.mustVerify(k.Hash) // now cached, for an hour
	}
	if _, err := s.RevokeKey(t.Context(), revoked.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	f.waitVerify("revocation applied", revoked.Hash, keystore.ErrRevoked)

	exec(t, s, `DELETE FROM keygate_keys WHERE id = $1`, deleted.ID)
	f.waitVerify("deletion applied", deleted.Hash, keystore.ErrUnknownKey)

	// A key is created after its hash was cached as unknown.
	created := storetest.NewKey(t, "weather", "created", time.Time{})
	if _, err := f.verify(created.Hash); !errors.Is(err, keystore.ErrUnknownKey) {
		t.Fatalf("a key not created yet: %v, want ErrUnknownKey", err)
	}
	if err := s.CreateKey(t.Context(), created); err != nil {
		t.Fatal(err)
	}
	f.waitVerify("creation applied", created.Hash, nil)

	// A new base URL reaches keys cached with the old one.
	exec(t, s, `UPDATE keygate_integrations SET base_url = 'https://moved.example.com' WHERE id = 'weather'`)
	poll.Until(t, 10*time.Second, "integration change applied", func() (bool, string) {
		c, err := f.verify(kept.Hash)
		return err == nil && c.BaseURL == "https://moved.example.com", "base URL " + c.BaseURL
	})
	if e := f.waitLog("integration changed; dropping the key cache"); e.ContextMap()["integration"] != "weather" {
		t.Errorf("integration change logged with %v", e.ContextMap())
	}
	f.assertQuiet()
}

// TestFollowSQLRevocation revokes as an operator would, with plain SQL.
func TestFollowSQLRevocation(t *testing.T) {
	t.Parallel()
	s := openWeather(t)
	k := addKey(t, s, "weather")
	f := follow(t, s, s, nil)
	f.mustVerify(k.Hash)
	exec(t, s, `UPDATE keygate_keys SET revoked_at = now() WHERE id = $1`, k.ID)
	f.waitVerify("SQL revocation applied", k.Hash, keystore.ErrRevoked)
	f.assertQuiet()
}

// TestFeedRecordsWhatMatters: a change to anything but last_used_at is a
// feed row, and its notification carries the sequence only.
func TestFeedRecordsWhatMatters(t *testing.T) {
	t.Parallel()
	s := openWeather(t)
	k := addKey(t, s, "weather")
	count := func() int64 { return queryInt(t, s, `SELECT count(*) FROM keygate_changes`) }
	before := count()

	exec(t, s, `UPDATE keygate_keys SET last_used_at = now() WHERE id = $1`, k.ID)
	exec(t, s, `UPDATE keygate_keys SET revoked_at = revoked_at`) // changes nothing
	exec(t, s, `UPDATE keygate_integrations SET created_at = created_at - interval '1 day'`)
	if n := count(); n != before {
		t.Fatalf("updates that change nothing authentication reads added %d feed rows", n-before)
	}

	listener, err := pgx.ConnectConfig(t.Context(), s.connConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(context.Background())
	if _, err := listener.Exec(t.Context(), "LISTEN "+feedChannel); err != nil {
		t.Fatal(err)
	}
	exec(t, s, `UPDATE keygate_keys SET name = 'renamed', last_used_at = now() WHERE id = $1`, k.ID)
	if n := count(); n != before+1 {
		t.Fatalf("a rename added %d feed rows, want 1", n-before)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	n, err := listener.WaitForNotification(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := queryInt(t, s, `SELECT max(seq) FROM keygate_changes`)
	if !regexp.MustCompile(`^[0-9]+$`).MatchString(n.Payload) || n.Payload != strconv.FormatInt(last, 10) {
		t.Errorf("notification payload %q, want the sequence %d and nothing else", n.Payload, last)
	}
	var keyID, op string
	var hash []byte
	if err := s.Pool().QueryRow(t.Context(), `SELECT key_id, key_hash, op FROM keygate_changes WHERE seq = $1`, last).
		Scan(&keyID, &hash, &op); err != nil {
		t.Fatal(err)
	}
	if keyID != k.ID || keystore.Hash(hash) != k.Hash || op != "update" {
		t.Errorf("feed row: key %s, op %s, hash matches %v", keyID, op, keystore.Hash(hash) == k.Hash)
	}
}

// TestFeedSequenceIsCommitOrder runs two revocations in overlapping
// transactions, the one numbered first committing last. A follower reading
// "seq > last" between the two commits would pass over the first one's row
// for good, unless numbering waits for the previous writer to commit.
func TestFeedSequenceIsCommitOrder(t *testing.T) {
	t.Parallel()
	s := openWeather(t)
	first, second := addKey(t, s, "weather"), addKey(t, s, "weather")
	f := follow(t, s, s, nil)
	f.mustVerify(first.Hash)
	f.mustVerify(second.Hash)

	txFirst, err := s.Pool().Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer txFirst.Rollback(context.Background())
	if _, err := txFirst.Exec(t.Context(), `UPDATE keygate_keys SET revoked_at = now() WHERE id = $1`, first.ID); err != nil {
		t.Fatal(err)
	}

	secondDone := make(chan error, 1)
	go func() {
		secondDone <- pgx.BeginFunc(context.Background(), s.Pool(), func(tx pgx.Tx) error {
			_, err := tx.Exec(context.Background(), `UPDATE keygate_keys SET revoked_at = now() WHERE id = $1`, second.ID)
			return err
		})
	}()
	// Either the second transaction waits for the first to commit, or it
	// commits first and the follower applies it: then the first commits.
	var secondCommitted bool
	poll.Until(t, 10*time.Second, "the second revocation waiting or applied", func() (bool, string) {
		if !secondCommitted {
			select {
			case err := <-secondDone:
				if err != nil {
					t.Fatalf("second revocation: %v", err)
				}
				secondCommitted = true
			default:
			}
		}
		if secondCommitted {
			_, err := f.verify(second.Hash)
			return errors.Is(err, keystore.ErrRevoked), "the second revocation committed, not applied yet"
		}
		waiting := queryInt(t, s, `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1
			AND (classid::bigint << 32 | objid::bigint) = $1
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, feedLock)
		return waiting == 1, "the second transaction neither waits for a lock nor committed"
	})
	if err := txFirst.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !secondCommitted {
		if err := <-secondDone; err != nil {
			t.Fatalf("second revocation: %v", err)
		}
	}
	f.waitVerify("the revocation numbered first, committed last, applied", first.Hash, keystore.ErrRevoked)
	f.waitVerify("the revocation numbered last applied", second.Hash, keystore.ErrRevoked)
	if secondCommitted {
		t.Error("the transaction that came second committed before the first: sequence order is not commit order")
	}
	f.assertQuiet()
}

// TestFollowCatchesUpAfterDisconnect cuts the follower's connection, as
// pg_terminate_backend or a failover does, and commits a revocation while
// it cannot reconnect: nobody is listening when it is notified, and it
// must still be applied once the follower is back.
func TestFollowCatchesUpAfterDisconnect(t *testing.T) {
	t.Parallel()
	s := openWeather(t)
	k := addKey(t, s, "weather")
	gate := newConnGate()
	f := follow(t, s, s, func(c *feedSettings) { c.beforeConnect = gate.wait })
	f.mustVerify(k.Hash)

	gate.shut()
	if n := terminateFeed(t, s); n != 1 {
		t.Fatalf("terminated %d feed connections, want 1", n)
	}
	gate.waitBlocked(t)
	if _, err := s.RevokeKey(t.Context(), k.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.verify(k.Hash); err != nil {
		t.Fatalf("while the follower is cut off the cached key should still pass, got %v: did something else apply the revocation?", err)
	}
	gate.reopen()
	f.waitVerify("revocation committed while cut off applied after reconnecting", k.Hash, keystore.ErrRevoked)

	if e := f.waitLog("change feed connection lost; reconnecting"); e.Level != zapcore.WarnLevel {
		t.Errorf("connection loss logged at %s, want warn", e.Level)
	}
	if e := f.waitLog("change feed reconnected"); e.Level != zapcore.InfoLevel {
		t.Errorf("reconnection logged at %s, want info", e.Level)
	}
}

// TestFollowDropsCacheWhenPrunedPast: changes pruned before a follower
// read them are lost to it, so it drops its whole cache.
func TestFollowDropsCacheWhenPrunedPast(t *testing.T) {
	t.Parallel()
	s := openWeather(t)
	revoked, kept := addKey(t, s, "weather"), addKey(t, s, "weather")
	gate := newConnGate()
	f := follow(t, s, s, func(c *feedSettings) { c.beforeConnect = gate.wait })
	f.mustVerify(revoked.Hash)
	f.mustVerify(kept.Hash)

	gate.shut()
	terminateFeed(t, s)
	gate.waitBlocked(t)
	if _, err := s.RevokeKey(t.Context(), revoked.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	conn, err := s.Pool().Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	through, err := pruneFeed(t.Context(), conn.Conn(), time.Now().Add(time.Hour))
	conn.Release()
	if err != nil {
		t.Fatal(err)
	}
	if last := queryInt(t, s, `SELECT last_value FROM keygate_changes_seq_seq`); through != last {
		t.Fatalf("pruned through %d, want every change, through %d", through, last)
	}
	reads := f.reads.Load()
	gate.reopen()
	f.waitVerify("revocation pruned before it was read, applied by dropping the cache", revoked.Hash, keystore.ErrRevoked)
	f.mustVerify(kept.Hash)
	if n := f.reads.Load() - reads; n != 2 {
		t.Errorf("%d store reads after the cache was dropped, want 2: one per key", n)
	}
	f.waitLog("change feed pruned past this instance's position; dropping the key cache")
}

// TestFollowPrunesOldChanges runs a follower whose clock is a day ahead:
// it prunes every change, and still applies them or drops its cache.
func TestFollowPrunesOldChanges(t *testing.T) {
	t.Parallel()
	s := openWeather(t)
	k := addKey(t, s, "weather")
	f := follow(t, s, s, func(c *feedSettings) {
		c.Now = func() time.Time { return time.Now().Add(FeedRetention + time.Hour) }
		c.PruneEvery = 10 * time.Millisecond
	})
	f.mustVerify(k.Hash)
	exec(t, s, `UPDATE keygate_keys SET revoked_at = now() WHERE id = $1`, k.ID)
	f.waitVerify("revocation applied", k.Hash, keystore.ErrRevoked)
	poll.Until(t, 10*time.Second, "old changes pruned", func() (bool, string) {
		left := queryInt(t, s, `SELECT count(*) FROM keygate_changes`)
		through := queryInt(t, s, `SELECT seq FROM keygate_changes_pruned`)
		last := queryInt(t, s, `SELECT last_value FROM keygate_changes_seq_seq`)
		return left == 0 && through == last, "rows left or the mark behind"
	})
}

// TestFollowNoticesSilentConnection freezes the follower's connection
// without closing it, like a peer that vanished: no error ever comes, and
// only the heartbeat's deadline can tell.
func TestFollowNoticesSilentConnection(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	direct := open(t, url)
	addIntegration(t, direct, "weather")
	k := addKey(t, direct, "weather")
	proxy := newStallProxy(t, url)
	feed := open(t, proxy.url(t, url))
	f := follow(t, feed, direct, func(c *feedSettings) {
		c.heartbeat, c.QueryTimeout = 100*time.Millisecond, 300*time.Millisecond
	})
	f.mustVerify(k.Hash)

	proxy.stall() // the connections open now go silent; new ones work
	began := time.Now()
	if _, err := direct.RevokeKey(t.Context(), k.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	f.waitVerify("revocation applied after the silent connection was replaced", k.Hash, keystore.ErrRevoked)
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("took %v to notice the silent connection", d)
	}
	f.waitLog("change feed connection lost; reconnecting")
}
