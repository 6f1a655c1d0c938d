package gateway

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/verify"
)

func TestWarnIfStale(t *testing.T) {
	now := time.Unix(2e9, 0)
	clock := func() time.Time { return now }
	v, err := verify.NewVerifier(noKeys{}, verify.VerifierConfig{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	s := &Runtime{verifier: v, staleTTL: 30 * time.Second, now: clock, stopFollow: func() {}}
	core, logs := observer.New(zapcore.DebugLevel)
	logger := zap.New(core)
	v.FeedHealthy(now)
	start := now

	for _, step := range []struct {
		at    time.Duration // since the feed was last healthy
		warns int           // in total, after this step
	}{
		{time.Second, 0},                    // healthy: the heartbeat is every second
		{staleWarnLag, 0},                   // still
		{3 * time.Second, 1},                // stale
		{4 * time.Second, 1},                // within staleWarnEvery of the warning
		{3*time.Second + staleWarnEvery, 2}, // past it
		{31 * time.Second, 2},               // past stale_ttl: the key was just read from the store
		{40 * time.Second, 2},
	} {
		now = start.Add(step.at)
		s.warnIfStale(logger)
		if got := logs.FilterMessage("serving cached key while the change feed is down").Len(); got != step.warns {
			t.Fatalf("%v after the feed was last healthy: %d warnings, want %d", step.at, got, step.warns)
		}
	}
	e := logs.All()[0]
	if e.Level != zapcore.WarnLevel || e.ContextMap()["feed_lag"] == nil {
		t.Errorf("warning at %s with %v", e.Level, e.ContextMap())
	}
}

func TestWarnIfStaleDoesNotAllocateWhenHealthy(t *testing.T) {
	v, err := verify.NewVerifier(noKeys{}, verify.VerifierConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	s := &Runtime{verifier: v, staleTTL: 30 * time.Second, now: time.Now, stopFollow: func() {}}
	v.FeedHealthy(time.Now())
	logger := zap.NewNop()
	if n := testing.AllocsPerRun(100, func() { s.warnIfStale(logger) }); n != 0 {
		t.Fatalf("%v allocations per allowed request with a healthy feed", n)
	}
}

// noKeys is a store in which no key is found.
type noKeys struct{}

func (noKeys) LookupCredential(context.Context, keystore.Hash) (keystore.Credential, error) {
	return keystore.Credential{}, keystore.ErrNotFound
}
