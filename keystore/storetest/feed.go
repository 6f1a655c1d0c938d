package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/keygate/keygate/internal/poll"
	"github.com/keygate/keygate/keystore"
)

// feedWait bounds how long a change may take to reach a follower: far
// more than any store needs, so that a loaded machine does not fail the
// suite.
const feedWait = 10 * time.Second

// RunFeed runs the conformance suite of the change feed, the contract of
// keystore.Follower, one subtest per behaviour. open must return a new,
// empty store that keeps a change feed for each subtest, and should close
// it when t ends.
func RunFeed(t *testing.T, open func(t *testing.T) keystore.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s keystore.Store, c *recordingCache)
	}{
		{"HealthyBeforeAnyRead", testFeedHealthyAtStart},
		{"Revoke/Invalidates", testFeedRevoke},
		{"Delete/Invalidates", testFeedDelete},
		{"Rotate/InvalidatesOld", testFeedRotate},
		{"Integration/DropsAll", testFeedIntegration},
		{"Touch/ChangesNothing", testFeedTouch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			f, ok := s.(keystore.Follower)
			if !ok {
				t.Fatalf("%T keeps no change feed", s)
			}
			c := &recordingCache{}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = f.Follow(ctx, c, zap.NewNop())
			}()
			t.Cleanup(func() {
				cancel()
				<-done
			})
			tc.run(t, s, c)
		})
	}
}

// recordingCache is a keystore.Cache that remembers what it was told.
type recordingCache struct {
	mu          sync.Mutex
	invalidated map[keystore.Hash]int
	drops       int
	healthy     []time.Time
}

func (c *recordingCache) Invalidate(h keystore.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.invalidated == nil {
		c.invalidated = map[keystore.Hash]int{}
	}
	c.invalidated[h]++
}

func (c *recordingCache) DropAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drops++
}

func (c *recordingCache) FeedHealthy(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.healthy = append(c.healthy, at)
}

func (c *recordingCache) FeedReconnected() {}

func (c *recordingCache) invalidations(h keystore.Hash) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.invalidated[h]
}

func (c *recordingCache) dropped() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.drops
}

func (c *recordingCache) healthReports() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.healthy)
}

// await polls until cond holds, or fails the test saying what did not
// happen.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, feedWait, what, func() (bool, string) { return cond(), "not yet" })
}

// caughtUp waits until the follower reports a read of the feed that
// began after now: every change committed before has been applied.
func caughtUp(t *testing.T, c *recordingCache) {
	t.Helper()
	since := time.Now()
	await(t, "a read of the feed after "+since.Format(time.StampMicro), func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.healthy) > 0 && c.healthy[len(c.healthy)-1].After(since)
	})
}

func testFeedHealthyAtStart(t *testing.T, _ keystore.Store, c *recordingCache) {
	await(t, "the first FeedHealthy", func() bool { return c.healthReports() >= 1 })
	if c.dropped() == 0 {
		t.Error("Follow started without dropping what the cache held before")
	}
}

// feedKey creates an integration and a key of it, with the follower
// following.
func feedKey(t *testing.T, s keystore.Store, c *recordingCache) keystore.NewKey {
	t.Helper()
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	k := NewKey(t, "weather", "ci", time.Time{})
	mustCreateKey(t, s, k)
	caughtUp(t, c)
	return k
}

func testFeedRevoke(t *testing.T, s keystore.Store, c *recordingCache) {
	k := feedKey(t, s, c)
	before := c.invalidations(k.Hash)
	if _, err := s.RevokeKey(ctx(t), k.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	await(t, "the revoked key's invalidation", func() bool { return c.invalidations(k.Hash) > before })
}

func testFeedDelete(t *testing.T, s keystore.Store, c *recordingCache) {
	k := feedKey(t, s, c)
	before := c.invalidations(k.Hash)
	if _, err := s.DeleteKey(ctx(t), k.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	await(t, "the deleted key's invalidation", func() bool { return c.invalidations(k.Hash) > before })
}

func testFeedRotate(t *testing.T, s keystore.Store, c *recordingCache) {
	k := feedKey(t, s, c)
	before := c.invalidations(k.Hash)
	if _, err := s.RotateKey(ctx(t), k.ID, NewKey(t, "weather", "ci", time.Now()), time.Now()); err != nil {
		t.Fatal(err)
	}
	await(t, "the rotated key's invalidation", func() bool { return c.invalidations(k.Hash) > before })
}

func testFeedIntegration(t *testing.T, s keystore.Store, c *recordingCache) {
	feedKey(t, s, c)
	before := c.dropped()
	if _, err := s.SetIntegrationURL(ctx(t), "weather", "https://weather.example.org"); err != nil {
		t.Fatal(err)
	}
	await(t, "a DropAll for the integration's new base URL", func() bool { return c.dropped() > before })
}

// testFeedTouch: recording uses is no change: it invalidates nothing,
// while a later revocation still arrives.
func testFeedTouch(t *testing.T, s keystore.Store, c *recordingCache) {
	k := feedKey(t, s, c)
	other := NewKey(t, "weather", "other", time.Time{})
	mustCreateKey(t, s, other)
	caughtUp(t, c)
	touched, drops, revoked := c.invalidations(k.Hash), c.dropped(), c.invalidations(other.Hash)
	if err := s.TouchKeys(ctx(t), map[string]keystore.Use{k.ID: {Last: time.Now(), Requests: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeKey(ctx(t), other.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The feed is ordered: once the revocation is applied, a change the
	// touch made would have been too.
	await(t, "the later revocation's invalidation", func() bool { return c.invalidations(other.Hash) > revoked })
	if got := c.invalidations(k.Hash); got != touched || c.dropped() != drops {
		t.Errorf("TouchKeys reached the feed: %d invalidations of the touched key (was %d), %d drops (was %d)",
			got, touched, c.dropped(), drops)
	}
}
