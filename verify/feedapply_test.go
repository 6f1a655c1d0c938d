package verify

import (
	"context"
	"testing"

	"github.com/keygate/keygate/keystore"
	"go.uber.org/zap"
)

func TestApplyFeed(t *testing.T) {
	s, _, v := newFixture(t)
	a, b := testKey(t), testKey(t)
	s.set(a, testCred)
	s.set(b, testCred)
	// verify reads both keys and returns how many lookups reached the
	// store since the last call.
	var seen int64
	verify := func() int64 {
		t.Helper()
		for _, h := range []keystore.Hash{a, b} {
			if _, err := v.Verify(context.Background(), h); err != nil {
				t.Fatal(err)
			}
		}
		n := s.lookups.Load() - seen
		seen += n
		return n
	}
	verify() // both cached
	log := zap.NewNop()

	last := keystore.ApplyFeed(v, log, 10, 0, []keystore.FeedChange{{Seq: 11, KeyHash: a[:], Op: "update"}})
	if n := verify(); last != 11 || n != 1 {
		t.Errorf("a key's change: at %d, %d lookups; want 11 and 1 (that key only)", last, n)
	}
	last = keystore.ApplyFeed(v, log, last, 0, []keystore.FeedChange{{Seq: 12, IntegrationID: "crm", Op: "update"}})
	if n := verify(); last != 12 || n != 2 {
		t.Errorf("an integration's change: at %d, %d lookups; want 12 and 2 (everything)", last, n)
	}
	last = keystore.ApplyFeed(v, log, last, 12, nil)
	if n := verify(); last != 12 || n != 0 {
		t.Errorf("pruned up to the position: at %d, %d lookups; want 12 and 0", last, n)
	}
	last = keystore.ApplyFeed(v, log, last, 20, []keystore.FeedChange{{Seq: 21, KeyHash: a[:], Op: "delete"}})
	if n := verify(); last != 21 || n != 2 {
		t.Errorf("pruned past the position: at %d, %d lookups; want 21 and 2 (everything)", last, n)
	}
}
