package verify

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Failed-authentication limiter defaults.
const (
	DefaultFailureLimit  = 20
	DefaultFailureWindow = time.Minute
	// DefaultFailureClients bounds how many clients the limiter tracks
	// at once: about 100 bytes each.
	DefaultFailureClients = 100_000
)

// failureShards spreads clients over 1<<failureShardBits locks, so that
// concurrent failures from different clients rarely contend.
const (
	failureShardBits = 6
	failureShards    = 1 << failureShardBits
)

// FailureLimiterConfig tunes a FailureLimiter; zero values take the
// defaults.
type FailureLimiterConfig struct {
	// Limit is how many failed authentications a client may have within
	// Window before it is refused. Default DefaultFailureLimit.
	Limit int
	// Window is the period failures are counted over, from a client's
	// first failure; a client over the limit is refused until its window
	// ends. Default DefaultFailureWindow.
	Window time.Duration
	// MaxClients bounds memory: when that many clients are tracked, the
	// expired ones are forgotten first, then ones not refused. Default
	// DefaultFailureClients.
	MaxClients int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// FailureLimiter refuses clients that failed to authenticate too often:
// after Limit failures within Window of its first one, a client is refused
// until that window ends, before its key costs any work (OWASP API2,
// broken authentication). Clients are IP addresses; IPv6 ones are counted
// by /64, which one subscriber usually holds whole. It is safe for
// concurrent use, and its memory is bounded.
type FailureLimiter struct {
	limit    uint32
	window   int64 // nanoseconds
	perShard int
	now      func() time.Time

	// blockedUntil is the latest end of any refusal, in Unix nanoseconds,
	// or 0 once it has passed: then no client is refused, and Blocking
	// costs a single load, not even a clock read.
	blockedUntil atomic.Int64
	shards       [failureShards]failureShard
}

type failureShard struct {
	mu      sync.Mutex
	clients map[netip.Addr]failures
}

// failures is one client's count in its current window.
type failures struct {
	start int64  // window start, Unix nanoseconds
	count uint32 // failures since start
}

// NewFailureLimiter returns a limiter with cfg's settings.
func NewFailureLimiter(cfg FailureLimiterConfig) (*FailureLimiter, error) {
	if cfg.Limit == 0 {
		cfg.Limit = DefaultFailureLimit
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultFailureWindow
	}
	if cfg.MaxClients == 0 {
		cfg.MaxClients = DefaultFailureClients
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Limit < 0 || cfg.Window < 0 || cfg.MaxClients < 0 {
		return nil, errors.New("failure limiter settings must not be negative")
	}
	l := &FailureLimiter{
		limit:    uint32(min(cfg.Limit, 1<<31)),
		window:   int64(cfg.Window),
		perShard: max(1, cfg.MaxClients/failureShards),
		now:      cfg.Now,
	}
	for i := range l.shards {
		l.shards[i].clients = make(map[netip.Addr]failures)
	}
	return l, nil
}

// clientKey is what client is counted as: its /64 for IPv6.
func clientKey(client netip.Addr) netip.Addr {
	client = client.Unmap()
	if client.Is6() {
		if p, err := client.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return client
}

func (l *FailureLimiter) shard(client netip.Addr) *failureShard {
	b := client.As16()
	// The low bytes of an IPv4 address, or of an IPv6 /64's routing
	// prefix, vary most.
	h := uint32(b[15]) | uint32(b[14])<<8 | uint32(b[7])<<16 | uint32(b[6])<<24
	h ^= h >> 16
	return &l.shards[(h*0x9e3779b1)>>(32-failureShardBits)]
}

// Blocked reports whether client is refused now, and for how long still.
func (l *FailureLimiter) Blocked(client netip.Addr) (time.Duration, bool) {
	now, blocking := l.blocking()
	if !blocking || !client.IsValid() {
		return 0, false
	}
	client = clientKey(client)
	s := l.shard(client)
	s.mu.Lock()
	f, ok := s.clients[client]
	s.mu.Unlock()
	if !ok || f.count < l.limit || now >= f.start+l.window {
		return 0, false
	}
	return time.Duration(f.start + l.window - now), true
}

// Blocking reports whether any client may be refused now: when it is
// false, Blocked is false for every client, and callers need not work out
// who the client is. While no client is refused it costs an atomic load.
func (l *FailureLimiter) Blocking() bool {
	_, blocking := l.blocking()
	return blocking
}

// blocking returns the time in Unix nanoseconds and whether any client
// may be refused then; it reads the clock only while one may be.
func (l *FailureLimiter) blocking() (int64, bool) {
	until := l.blockedUntil.Load()
	if until == 0 {
		return 0, false
	}
	now := l.now().UnixNano()
	if now >= until {
		l.blockedUntil.CompareAndSwap(until, 0) // unless a client was just refused
		return now, false
	}
	return now, true
}

// Failed records a failed authentication of client.
func (l *FailureLimiter) Failed(client netip.Addr) {
	if !client.IsValid() {
		return
	}
	now := l.now().UnixNano()
	client = clientKey(client)
	s := l.shard(client)
	s.mu.Lock()
	f, ok := s.clients[client]
	if !ok || now >= f.start+l.window {
		if !ok && len(s.clients) >= l.perShard {
			s.evict(now, l.window, l.limit, l.perShard)
		}
		f = failures{start: now}
	}
	f.count++
	s.clients[client] = f
	s.mu.Unlock()
	if f.count >= l.limit {
		l.blockUntil(f.start + l.window)
	}
}

// blockUntil raises blockedUntil to t.
func (l *FailureLimiter) blockUntil(t int64) {
	for {
		cur := l.blockedUntil.Load()
		if t <= cur || l.blockedUntil.CompareAndSwap(cur, t) {
			return
		}
	}
}

// evict makes room for one client in a full shard: it forgets the clients
// whose window ended; if none did, one that is not refused; if all are,
// any one.
func (s *failureShard) evict(now, window int64, limit uint32, size int) {
	var spare, any netip.Addr
	for c, f := range s.clients {
		switch {
		case now >= f.start+window:
			delete(s.clients, c)
		case !spare.IsValid() && f.count < limit:
			spare = c
		case !any.IsValid():
			any = c
		}
	}
	switch {
	case len(s.clients) < size:
	case spare.IsValid():
		delete(s.clients, spare)
	case any.IsValid():
		delete(s.clients, any)
	}
}

// Len returns how many clients the limiter tracks.
func (l *FailureLimiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.clients)
		s.mu.Unlock()
	}
	return n
}
