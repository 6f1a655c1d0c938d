package verify

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// sliceFeed is a FeedSource over changes numbered 1 to n.
type sliceFeed struct {
	changes  []keystore.FeedChange
	pruneErr error
}

func (f *sliceFeed) FeedPosition(context.Context) (int64, error) { return 0, nil }

func (f *sliceFeed) ReadFeed(_ context.Context, after int64, limit int) ([]keystore.FeedChange, int64, error) {
	rest := f.changes[min(int(after), len(f.changes)):]
	return rest[:min(limit, len(rest))], 0, nil
}

func (f *sliceFeed) PruneFeed(context.Context, time.Time) (int64, error) { return 0, f.pruneErr }

func TestFeedCursor(t *testing.T) {
	_, _, v := newFixture(t)
	feed := &sliceFeed{}
	for seq := range int64(5) {
		feed.changes = append(feed.changes, keystore.FeedChange{Seq: seq + 1, IntegrationID: "crm", Op: "update"})
	}
	core, logs := observer.New(zapcore.DebugLevel)
	cfg := keystore.DefaultFeedCursorConfig()
	cfg.Batch = 2
	cfg.PruneEvery = 0 // every MaybePrune prunes
	if _, ok := v.FeedLag(time.Now()); ok {
		t.Fatal("no cursor yet, but the verifier counts a feed lag")
	}
	c := keystore.NewFeedCursor(feed, cfg, v, zap.New(core))
	// Before any read: the cache is bounded by StaleTTL from now on, even
	// if the store never answers.
	if _, ok := v.FeedLag(time.Now()); !ok {
		t.Fatal("a new cursor did not report the feed's first healthy moment")
	}
	if err := c.Start(t.Context()); err != nil || !c.Started() {
		t.Fatalf("Start: %v, started %v", err, c.Started())
	}
	if err := c.CatchUp(t.Context()); err != nil || c.Last() != 5 {
		t.Fatalf("CatchUp in batches of 2: at %d, %v; want 5", c.Last(), err)
	}

	c.Failed(errors.New("gone"), "down", "still down")
	c.Failed(errors.New("gone"), "down", "still down", zap.Int("attempts", 1))
	c.Recovered("back")
	c.Recovered("back again") // not down: nothing to log
	for msg, want := range map[string]zapcore.Level{"down": zapcore.WarnLevel, "still down": zapcore.DebugLevel, "back": zapcore.InfoLevel} {
		if e := logs.FilterMessage(msg).All(); len(e) != 1 || e[0].Level != want {
			t.Errorf("%q logged %v, want once at %s", msg, e, want)
		}
	}
	if c.Down() || logs.FilterMessage("back again").Len() != 0 {
		t.Error("still down after Recovered, or a recovery logged without an outage")
	}

	feed.pruneErr = errors.New("connection reset")
	if err := c.MaybePrune(t.Context(), func(error) bool { return true }); err == nil {
		t.Error("a pruning that broke the connection was not returned")
	}
	if err := c.MaybePrune(t.Context(), nil); err != nil || logs.FilterMessage("cannot prune the change feed").Len() != 1 {
		t.Errorf("a pruning that failed otherwise: %v, want nil and a warning", err)
	}
}

// A cursor that records to the fleet reports the feed healthy only as of
// a read it recorded: an instance whose row is stale trusts nothing
// cached (the liveness rule of fleet.go).
func TestFeedCursorRecordTo(t *testing.T) {
	_, _, v := newFixture(t)
	feed := &sliceFeed{changes: []keystore.FeedChange{{Seq: 1, IntegrationID: "crm", Op: "update"}}}
	c := keystore.NewFeedCursor(feed, keystore.DefaultFeedCursorConfig(), v, zap.NewNop())
	var recorded []int64
	fail := errors.New("keygate_gateways: connection reset")
	var recordErr error
	c.RecordTo(func(_ context.Context, applied int64) error {
		if recordErr != nil {
			return recordErr
		}
		recorded = append(recorded, applied)
		return nil
	}, time.Hour)
	if lag, ok := v.FeedLag(time.Now()); !ok || lag < 24*time.Hour {
		t.Fatalf("before the first record the feed lag is %v: the cache would be trusted", lag)
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if lag, _ := v.FeedLag(time.Now()); lag < 24*time.Hour {
		t.Fatalf("Start reported the feed healthy (lag %v) before any record", lag)
	}
	recordErr = fail
	if err := c.CatchUp(t.Context()); !errors.Is(err, fail) {
		t.Fatalf("CatchUp with a failing record: %v, want the record's error", err)
	}
	if lag, _ := v.FeedLag(time.Now()); lag < 24*time.Hour {
		t.Fatalf("an unrecorded read reported the feed healthy (lag %v)", lag)
	}
	recordErr = nil
	if err := c.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	if lag, _ := v.FeedLag(time.Now()); lag > time.Minute || len(recorded) != 1 || recorded[0] != 1 {
		t.Fatalf("after a recorded read: lag %v, records %v; want a fresh lag and [1]", lag, recorded)
	}
	// Nothing new, heartbeat not due: no record, and no fresher health.
	if err := c.CatchUp(t.Context()); err != nil || len(recorded) != 1 {
		t.Fatalf("an idle read recorded again (%v, %v) before the heartbeat", recorded, err)
	}
	feed.changes = append(feed.changes, keystore.FeedChange{Seq: 2, IntegrationID: "crm", Op: "update"})
	if err := c.CatchUp(t.Context()); err != nil || len(recorded) != 2 || recorded[1] != 2 {
		t.Fatalf("a read that applied seq 2 recorded %v (%v); want [1 2]", recorded, err)
	}
}
