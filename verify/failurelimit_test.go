package verify

import (
	"net/netip"
	"testing"
	"time"
)

func newTestLimiter(t *testing.T, cfg FailureLimiterConfig) (*FailureLimiter, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	cfg.Now = clock.Now
	l, err := NewFailureLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, clock
}

func TestFailureLimiterBlocksAfterLimitUntilWindowEnds(t *testing.T) {
	l, clock := newTestLimiter(t, FailureLimiterConfig{Limit: 3, Window: time.Minute})
	a, b := netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("198.51.100.8")
	for i := range 3 {
		if _, blocked := l.Blocked(a); blocked {
			t.Fatalf("blocked after %d failures, limit 3", i)
		}
		l.Failed(a)
		clock.Advance(10 * time.Second)
	}
	// 3 failures at 0s, 10s, 20s; now 30s.
	wait, blocked := l.Blocked(a)
	if !blocked || wait != 30*time.Second {
		t.Fatalf("after 3 failures: blocked %v for %v, want true for 30s (the window's end)", blocked, wait)
	}
	if !l.Blocking() {
		t.Fatal("Blocking is false while a client is blocked")
	}
	if _, blocked := l.Blocked(b); blocked {
		t.Fatal("another client is blocked")
	}
	clock.Advance(30 * time.Second)
	if _, blocked := l.Blocked(a); blocked {
		t.Fatal("still blocked once the window ended")
	}
	if l.Blocking() {
		t.Fatal("Blocking is true once every window ended")
	}
	// A new window starts from scratch.
	l.Failed(a)
	if _, blocked := l.Blocked(a); blocked {
		t.Fatal("blocked after one failure in a new window")
	}
}

func TestFailureLimiterSpreadOutFailuresNeverBlock(t *testing.T) {
	l, clock := newTestLimiter(t, FailureLimiterConfig{Limit: 3, Window: time.Minute})
	a := netip.MustParseAddr("203.0.113.1")
	for range 10 {
		l.Failed(a)
		clock.Advance(31 * time.Second) // at most 2 failures per window
	}
	if _, blocked := l.Blocked(a); blocked {
		t.Fatal("blocked with at most 2 failures per window, limit 3")
	}
}

func TestFailureLimiterCountsIPv6By64(t *testing.T) {
	l, _ := newTestLimiter(t, FailureLimiterConfig{Limit: 2, Window: time.Minute})
	l.Failed(netip.MustParseAddr("2001:db8:1:2::1"))
	l.Failed(netip.MustParseAddr("2001:db8:1:2:ffff::9"))
	if _, blocked := l.Blocked(netip.MustParseAddr("2001:db8:1:2::42")); !blocked {
		t.Fatal("two failures from one /64 do not block it")
	}
	if _, blocked := l.Blocked(netip.MustParseAddr("2001:db8:1:3::1")); blocked {
		t.Fatal("another /64 is blocked")
	}
	// IPv4-mapped IPv6 is the IPv4 client.
	l.Failed(netip.MustParseAddr("192.0.2.1"))
	l.Failed(netip.MustParseAddr("::ffff:192.0.2.1"))
	if _, blocked := l.Blocked(netip.MustParseAddr("192.0.2.1")); !blocked {
		t.Fatal("an IPv4 client is not blocked after failures as IPv4 and IPv4-mapped IPv6")
	}
}

func TestFailureLimiterMemoryBounded(t *testing.T) {
	const max = failureShards * 4
	l, clock := newTestLimiter(t, FailureLimiterConfig{Limit: 2, Window: time.Minute, MaxClients: max})
	blocked := netip.MustParseAddr("192.0.2.200")
	l.Failed(blocked)
	l.Failed(blocked)
	for i := range 20 * max {
		l.Failed(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	if n := l.Len(); n > max {
		t.Fatalf("tracks %d clients, want at most %d", n, max)
	}
	if _, ok := l.Blocked(blocked); !ok {
		t.Fatal("a refused client was forgotten to make room for ones that were not")
	}
	// Expired clients make room first.
	clock.Advance(time.Minute)
	l.Failed(netip.MustParseAddr("192.0.2.201"))
	if n := l.Len(); n > max {
		t.Fatalf("tracks %d clients, want at most %d", n, max)
	}
}

func TestFailureLimiterInvalidClientIgnored(t *testing.T) {
	l, _ := newTestLimiter(t, FailureLimiterConfig{Limit: 1})
	l.Failed(netip.Addr{})
	if _, blocked := l.Blocked(netip.Addr{}); blocked {
		t.Fatal("the zero address is blocked")
	}
	if l.Len() != 0 {
		t.Fatal("the zero address is tracked")
	}
}

func TestFailureLimiterRejectsNegativeSettings(t *testing.T) {
	for _, cfg := range []FailureLimiterConfig{{Limit: -1}, {Window: -time.Second}, {MaxClients: -1}} {
		if _, err := NewFailureLimiter(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func BenchmarkFailureLimiterBlockedIdle(b *testing.B) {
	l, err := NewFailureLimiter(FailureLimiterConfig{})
	if err != nil {
		b.Fatal(err)
	}
	a := netip.MustParseAddr("198.51.100.7")
	b.ReportAllocs()
	for b.Loop() {
		l.Blocked(a)
	}
}
