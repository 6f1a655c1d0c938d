package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/keygate/keygate/internal/poll"
	"github.com/keygate/keygate/keystore"
)

// fleetOf returns s as a FleetStore and FleetFollower, or fails t.
func fleetOf(t *testing.T, s keystore.Store) (keystore.FleetStore, keystore.FleetFollower) {
	t.Helper()
	fs, ok := s.(keystore.FleetStore)
	ff, ok2 := s.(keystore.FleetFollower)
	if !ok || !ok2 {
		t.Fatalf("%T keeps no fleet: it must implement keystore.FleetStore and keystore.FleetFollower", s)
	}
	return fs, ff
}

func instance(id, host string, staleTTL time.Duration) keystore.Instance {
	return keystore.Instance{ID: id, Hostname: host, Version: "v-test", StartedAt: baseTime, StaleTTL: staleTTL}
}

func mustFleet(t *testing.T, fs keystore.FleetStore) keystore.Fleet {
	t.Helper()
	f, err := fs.Fleet(ctx(t))
	if err != nil {
		t.Fatalf("reading the fleet: %v", err)
	}
	return f
}

func gatewayIDs(f keystore.Fleet) []string {
	var ids []string
	for _, g := range f.Gateways {
		ids = append(ids, fmt.Sprintf("%s live=%v applied=%d", g.ID, g.Live, g.AppliedSeq))
	}
	return ids
}

func testFleetRecordAndList(t *testing.T, s keystore.Store) {
	fs, _ := fleetOf(t, s)
	if f := mustFleet(t, fs); len(f.Gateways) != 0 || f.Now.IsZero() {
		t.Fatalf("a new store's fleet: %v at %v; want none, with the store's clock", gatewayIDs(f), f.Now)
	}
	mustCreateIntegration(t, s, "crm", "https://crm.example")
	mustCreateKey(t, s, NewKey(t, "crm", "a", time.Time{}))
	head, err := fs.FeedHead(ctx(t))
	if err != nil || head < 1 {
		t.Fatalf("feed head after a change: %d, %v; want at least 1", head, err)
	}
	if live, err := fs.RecordGateway(ctx(t), instance("gw-b", "host-b", 30*time.Second), head); err != nil || live != 1 {
		t.Fatalf("recording gw-b: %d live, %v; want 1", live, err)
	}
	if live, err := fs.RecordGateway(ctx(t), instance("gw-a", "host-a", 30*time.Second), head-1); err != nil || live != 2 {
		t.Fatalf("recording gw-a: %d live, %v; want 2", live, err)
	}
	// A second record of an instance updates its row.
	if live, err := fs.RecordGateway(ctx(t), instance("gw-b", "host-b", 30*time.Second), head); err != nil || live != 2 {
		t.Fatalf("recording gw-b again: %d live, %v; want 2", live, err)
	}
	f := mustFleet(t, fs)
	if len(f.Gateways) != 2 || f.Gateways[0].ID != "gw-a" || f.Gateways[1].ID != "gw-b" || f.Head != head {
		t.Fatalf("fleet %v, head %d; want gw-a then gw-b (by hostname), head %d", gatewayIDs(f), f.Head, head)
	}
	a := f.Gateways[0]
	if !a.Live || a.AppliedSeq != head-1 || f.Lag(a) != 1 || a.Hostname != "host-a" || a.Version != "v-test" ||
		a.StaleTTL != 30*time.Second || !sameTime(a.StartedAt, baseTime) || f.Now.Sub(a.LastSeen).Abs() > time.Minute {
		t.Fatalf("gw-a's row: %+v (lag %d, store now %v)", a, f.Lag(a), f.Now)
	}
	if err := fs.ForgetGateway(ctx(t), "gw-a"); err != nil {
		t.Fatal(err)
	}
	if err := fs.ForgetGateway(ctx(t), "gw-unknown"); err != nil {
		t.Fatalf("forgetting an unknown gateway: %v", err)
	}
	if f := mustFleet(t, fs); len(f.Gateways) != 1 || f.Gateways[0].ID != "gw-b" {
		t.Fatalf("after forgetting gw-a: %v", gatewayIDs(f))
	}
}

// A row not recorded again within its stale_ttl + LivenessMargin turns
// stale, and no longer has to confirm.
func testFleetStale(t *testing.T, s keystore.Store) {
	fs, _ := fleetOf(t, s)
	if _, err := fs.RecordGateway(ctx(t), instance("gw-gone", "h", 0), 0); err != nil {
		t.Fatal(err)
	}
	if f := mustFleet(t, fs); len(f.Gateways) != 1 || !f.Gateways[0].Live {
		t.Fatalf("just recorded: %v; want live within the margin", gatewayIDs(f))
	}
	poll.Until(t, 10*keystore.LivenessMargin, "the row turns stale", func() (bool, string) {
		f := mustFleet(t, fs)
		return len(f.Gateways) == 1 && !f.Gateways[0].Live, fmt.Sprint(gatewayIDs(f))
	})
	c, err := keystore.Confirm(ctx(t), s, 1, time.Second, nil)
	if err != nil || !c.Done() || c.Live != 0 {
		t.Fatalf("confirming with only a stale gateway: %+v, %v; want 0/0, done", c, err)
	}
}

// Confirm waits for every live instance to apply a sequence, and names
// the ones that did not within the wait.
func testFleetConfirm(t *testing.T, s keystore.Store) {
	fs, _ := fleetOf(t, s)
	mustCreateIntegration(t, s, "crm", "https://crm.example")
	mustCreateKey(t, s, NewKey(t, "crm", "a", time.Time{}))
	head, err := fs.FeedHead(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.RecordGateway(ctx(t), instance("gw-ok", "h1", 30*time.Second), head); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.RecordGateway(ctx(t), instance("gw-late", "h2", 30*time.Second), head-1); err != nil {
		t.Fatal(err)
	}
	c, err := keystore.Confirm(ctx(t), s, head, 200*time.Millisecond, nil)
	if err != nil || c.Done() || c.Live != 2 || c.Confirmed != 1 || len(c.Missing) != 1 || c.Missing[0].ID != "gw-late" ||
		c.Elapsed < 200*time.Millisecond {
		t.Fatalf("confirming with gw-late behind: %+v, %v; want 1/2 after the wait, gw-late missing", c, err)
	}
	// The late one catches up during the wait: Confirm sees it at once.
	go func() {
		time.Sleep(50 * time.Millisecond) // let Confirm start waiting
		_, _ = fs.RecordGateway(context.Background(), instance("gw-late", "h2", 30*time.Second), head)
	}()
	c, err = keystore.Confirm(ctx(t), s, head, 10*time.Second, nil)
	if err != nil || !c.Done() || c.Confirmed != 2 || c.Elapsed > 5*time.Second {
		t.Fatalf("confirming while gw-late catches up: %+v, %v; want 2/2 soon", c, err)
	}
}

// FollowAs records the instance as it follows, with the sequence it
// applied, and forgets it when it stops.
func testFleetFollowAs(t *testing.T, s keystore.Store) {
	fs, ff := fleetOf(t, s)
	cache := &recordingCache{}
	followCtx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	var lives []int
	liveCh := make(chan int, 100)
	self := instance("gw-self", "here", 30*time.Second)
	go func() { done <- ff.FollowAs(followCtx, cache, zap.NewNop(), self, func(n int) { liveCh <- n }) }()
	t.Cleanup(func() { stop(); <-done })

	poll.Until(t, 10*time.Second, "the follower records itself", func() (bool, string) {
		f := mustFleet(t, fs)
		return len(f.Gateways) == 1 && f.Gateways[0].ID == "gw-self" && f.Gateways[0].Live, fmt.Sprint(gatewayIDs(f))
	})
	mustCreateIntegration(t, s, "crm", "https://crm.example")
	k := NewKey(t, "crm", "a", time.Time{})
	mustCreateKey(t, s, k)
	if _, err := s.RevokeKey(ctx(t), k.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	head, err := fs.FeedHead(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	c, err := keystore.Confirm(ctx(t), s, head, 10*time.Second, nil)
	if err != nil || !c.Done() || c.Live != 1 || c.Confirmed != 1 {
		t.Fatalf("confirming a revocation with one follower: %+v, %v; want 1/1", c, err)
	}
	if f := mustFleet(t, fs); f.Gateways[0].AppliedSeq < head {
		t.Fatalf("the follower's row applied %d, below the head %d it confirmed", f.Gateways[0].AppliedSeq, head)
	}
	if cache.invalidations(k.Hash) == 0 {
		t.Fatal("the revocation was confirmed before the follower applied it to its cache")
	}
	for len(liveCh) > 0 {
		lives = append(lives, <-liveCh)
	}
	if len(lives) == 0 || slices.ContainsFunc(lives, func(n int) bool { return n != 1 }) {
		t.Errorf("live counts reported: %v; want 1 each time", lives)
	}
	stop()
	if err := <-done; err == nil {
		t.Error("FollowAs returned nil when its context ended")
	}
	done <- nil // for the cleanup
	if f := mustFleet(t, fs); len(f.Gateways) != 0 {
		t.Fatalf("after the follower stopped, the fleet still has %v", gatewayIDs(f))
	}
}
