package sqlite

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/keystore/storetest"
	"github.com/keygate/keygate/verify"
)

// countingStore counts the lookups that reach the store, which tells when
// the verifier's cache was dropped.
type countingStore struct {
	*Store
	lookups atomic.Int64
}

func (c *countingStore) LookupCredential(ctx context.Context, h keystore.Hash) (keystore.Credential, error) {
	c.lookups.Add(1)
	return c.Store.LookupCredential(ctx, h)
}

// newVerifier returns a verifier over s whose entries live an hour: only
// the change feed can make it see a change.
func newVerifier(t *testing.T, s verify.Lookuper) *verify.Verifier {
	t.Helper()
	v, err := verify.NewVerifier(s, verify.VerifierConfig{TTL: time.Hour, NegativeTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

// follow runs s.Follow into v until the test ends, and checks that it
// returns then.
func follow(t *testing.T, s *Store, v *verify.Verifier) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Follow(ctx, v, zaptest.NewLogger(t)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Follow returned %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Follow did not return within 5s of its context ending")
		}
	})
}

// within checks cond every few milliseconds until it holds, and fails t
// if it still does not after d; it returns how long it took.
func within(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond) // polling
	}
	return time.Since(start)
}

// fixture is a gateway's store and a command line's store on one file,
// with an integration and a key made through the command line's.
type fixture struct {
	gateway, cli *Store
	key          keystore.NewKey
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	path := tempPath(t)
	f := fixture{gateway: open(t, path), cli: open(t, path)}
	if err := f.cli.CreateIntegration(t.Context(), keystore.Integration{ID: "weather", BaseURL: "https://weather.example.com"}); err != nil {
		t.Fatal(err)
	}
	f.key = storetest.NewKey(t, "weather", "ci", time.Time{})
	if err := f.cli.CreateKey(t.Context(), f.key); err != nil {
		t.Fatal(err)
	}
	return f
}

// exec runs SQL on s's write connection, as an operator with the sqlite3
// shell would.
func exec(t *testing.T, s *Store, query string, args ...any) {
	t.Helper()
	if _, err := s.writer.ExecContext(t.Context(), query, args...); err != nil {
		t.Fatalf("running %q: %v", query, err)
	}
}

func TestFollowAppliesRevocationFromAnotherStore(t *testing.T) {
	f := newFixture(t)
	v := newVerifier(t, f.gateway)
	follow(t, f.gateway, v)
	if _, err := v.Verify(t.Context(), f.key.Hash); err != nil {
		t.Fatalf("verifying the key before revocation: %v", err)
	}
	if _, err := f.cli.RevokeKey(t.Context(), f.key.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	took := within(t, time.Second, "the follower applying a revocation made by another store", func() bool {
		_, err := v.Verify(t.Context(), f.key.Hash)
		return errors.Is(err, keystore.ErrRevoked)
	})
	t.Logf("revocation applied after %v", took)
}

func TestFollowAppliesSQL(t *testing.T) {
	for _, tc := range []struct {
		name, sql string
		want      error
	}{
		{"revoked with datetime('now')", `UPDATE keygate_keys SET revoked_at = datetime('now') WHERE id = ?`, keystore.ErrRevoked},
		{"revoked with CURRENT_TIMESTAMP", `UPDATE keygate_keys SET revoked_at = CURRENT_TIMESTAMP WHERE id = ?`, keystore.ErrRevoked},
		{"expired", `UPDATE keygate_keys SET expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 minute') WHERE id = ?`, keystore.ErrExpired},
		{"deleted", `DELETE FROM keygate_keys WHERE id = ?`, keystore.ErrUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			v := newVerifier(t, f.gateway)
			follow(t, f.gateway, v)
			if _, err := v.Verify(t.Context(), f.key.Hash); err != nil {
				t.Fatal(err)
			}
			exec(t, f.cli, tc.sql, f.key.ID)
			within(t, time.Second, "the follower applying "+tc.name, func() bool {
				_, err := v.Verify(t.Context(), f.key.Hash)
				return errors.Is(err, tc.want)
			})
		})
	}
}

func TestFollowIntegrationChangeDropsCache(t *testing.T) {
	f := newFixture(t)
	v := newVerifier(t, f.gateway)
	follow(t, f.gateway, v)
	if _, err := v.Verify(t.Context(), f.key.Hash); err != nil {
		t.Fatal(err)
	}
	exec(t, f.cli, `UPDATE keygate_integrations SET base_url = 'https://moved.example.com' WHERE id = 'weather'`)
	within(t, time.Second, "the follower applying a new base URL", func() bool {
		c, err := v.Verify(t.Context(), f.key.Hash)
		return err == nil && c.BaseURL == "https://moved.example.com"
	})
}

func TestFollowUnknownKeyCreatedLater(t *testing.T) {
	f := newFixture(t)
	v := newVerifier(t, f.gateway)
	follow(t, f.gateway, v)
	later := storetest.NewKey(t, "weather", "later", time.Time{})
	if _, err := v.Verify(t.Context(), later.Hash); !errors.Is(err, keystore.ErrUnknownKey) {
		t.Fatalf("verifying a key not created yet: %v", err)
	}
	if err := f.cli.CreateKey(t.Context(), later); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "the follower forgetting that a new key was unknown", func() bool {
		_, err := v.Verify(t.Context(), later.Hash)
		return err == nil
	})
}

func TestFollowReportsHealth(t *testing.T) {
	f := newFixture(t)
	v := newVerifier(t, f.gateway)
	follow(t, f.gateway, v)
	// Each poll reports the feed healthy as of when it began: reports keep
	// coming, each from a poll that began after the previous check.
	for range 3 {
		since := time.Now()
		within(t, time.Second, "a feed health report", func() bool {
			lag, ok := v.FeedLag(since)
			return ok && lag < 0 // reported as of a time after since
		})
	}
}

// feedRows returns how many changes the feed holds.
func feedRows(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.reader.QueryRowContext(t.Context(), `SELECT count(*) FROM keygate_changes`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFeedRecordsWhatMatters(t *testing.T) {
	f := newFixture(t)
	s := f.cli
	steps := []struct {
		name, sql string
		rows      int // new feed rows
	}{
		{"last use recorded", `UPDATE keygate_keys SET last_used_at = datetime('now')`, 0},
		{"no-op update", `UPDATE keygate_keys SET name = name`, 0},
		{"renamed", `UPDATE keygate_keys SET name = 'renamed'`, 1},
		{"new hash", `UPDATE keygate_keys SET key_hash = randomblob(32)`, 2}, // the old hash and the new
		{"integration added", `INSERT INTO keygate_integrations (id, base_url) VALUES ('billing', 'https://billing.example.com')`, 0},
		{"integration touched", `UPDATE keygate_integrations SET created_at = created_at`, 0},
		{"integration moved", `UPDATE keygate_integrations SET base_url = 'https://b.example.com' WHERE id = 'billing'`, 1},
		{"key deleted", `DELETE FROM keygate_keys`, 1},
		{"integrations deleted", `DELETE FROM keygate_integrations`, 2},
	}
	for _, step := range steps {
		before := feedRows(t, s)
		exec(t, s, step.sql)
		if got := feedRows(t, s) - before; got != step.rows {
			t.Errorf("%s: %d feed rows, want %d", step.name, got, step.rows)
		}
	}
}

// TestFollowPrunedPastPosition prunes changes the follower has not read:
// it must drop its whole cache, having missed them.
func TestFollowPrunedPastPosition(t *testing.T) {
	f := newFixture(t)
	counted := &countingStore{Store: f.gateway}
	v := newVerifier(t, counted)
	fl := newFollower(f.gateway, v, zaptest.NewLogger(t)).cursor
	if err := fl.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	verify := func() {
		t.Helper()
		if _, err := v.Verify(t.Context(), f.key.Hash); err != nil {
			t.Fatal(err)
		}
	}
	verify()
	verify()
	if n := counted.lookups.Load(); n != 1 {
		t.Fatalf("%d lookups for a key verified twice, want 1 (the second from the cache)", n)
	}

	// A change the follower reads invalidates that key only.
	if err := f.cli.CreateKey(t.Context(), storetest.NewKey(t, "weather", "other", time.Time{})); err != nil {
		t.Fatal(err)
	}
	if err := fl.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	verify()
	if n := counted.lookups.Load(); n != 1 {
		t.Fatalf("another key's change made the cache drop this one: %d lookups, want 1", n)
	}

	// A change pruned before the follower read it drops everything.
	if err := f.cli.CreateKey(t.Context(), storetest.NewKey(t, "weather", "missed", time.Time{})); err != nil {
		t.Fatal(err)
	}
	through, err := f.cli.pruneFeed(t.Context(), time.Now().Add(time.Minute))
	if err != nil || through == 0 {
		t.Fatalf("pruning: through %d, %v", through, err)
	}
	if err := fl.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	if fl.Last() != through {
		t.Errorf("after catching up, the follower is at %d, want the pruning mark %d", fl.Last(), through)
	}
	verify()
	if n := counted.lookups.Load(); n != 2 {
		t.Fatalf("%d lookups after the feed was pruned past the follower, want 2: the cache was not dropped", n)
	}
}

func TestFollowerPrunes(t *testing.T) {
	f := newFixture(t)
	f.gateway.feed.Retention, f.gateway.feed.PruneEvery = 0, 10*time.Millisecond
	follow(t, f.gateway, newVerifier(t, f.gateway))
	if _, err := f.cli.RevokeKey(t.Context(), f.key.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	within(t, 5*time.Second, "the follower pruning the feed", func() bool { return feedRows(t, f.cli) == 0 })
	var pruned int64
	if err := f.cli.reader.QueryRowContext(t.Context(), `SELECT seq FROM keygate_changes_pruned`).Scan(&pruned); err != nil || pruned < 2 {
		t.Fatalf("pruning mark %d (%v), want at least 2 (the key's creation and revocation)", pruned, err)
	}
	// Sequences go on from there: AUTOINCREMENT never hands one out twice.
	// The follower goes on pruning (retention 0), so the new change may
	// already be pruned too: then the pruning mark has moved to it.
	if err := f.cli.CreateKey(t.Context(), storetest.NewKey(t, "weather", "after", time.Time{})); err != nil {
		t.Fatal(err)
	}
	var seq int64
	if err := f.cli.reader.QueryRowContext(t.Context(),
		`SELECT max(s) FROM (SELECT max(seq) AS s FROM keygate_changes UNION ALL SELECT seq FROM keygate_changes_pruned)`).Scan(&seq); err != nil || seq <= pruned {
		t.Fatalf("a change after pruning got sequence %d (%v), want more than %d", seq, err, pruned)
	}
}

// The follower sees another store's commit through the WAL-index header
// alone: with the fallback read an hour away, a revocation still reaches
// the cache within a few polls.
func TestFollowSeesCommitsThroughTheWALHeader(t *testing.T) {
	f := newFixture(t)
	f.gateway.feed.readEvery = time.Hour
	counting := &countingStore{Store: f.gateway}
	v := newVerifier(t, counting)
	follow(t, f.gateway, v)
	if _, err := v.Verify(t.Context(), f.key.Hash); err != nil {
		t.Fatalf("verifying the key before revocation: %v", err)
	}
	wal := newWALWatch(f.gateway.path)
	defer wal.close()
	wal.changed()
	if wal.changed() {
		t.Fatal("the WAL header changed with no commit")
	}
	if _, err := f.cli.RevokeKey(t.Context(), f.key.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if !wal.changed() {
		t.Fatal("another store's commit left the WAL header as it was")
	}
	took := within(t, time.Second, "the follower applying a revocation seen in the WAL header", func() bool {
		_, err := v.Verify(t.Context(), f.key.Hash)
		return errors.Is(err, keystore.ErrRevoked)
	})
	if took > 200*time.Millisecond {
		t.Errorf("revocation applied after %v; want within a few %v polls", took, PollInterval)
	}
}
