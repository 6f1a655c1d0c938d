package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/keygate/keygate/internal/pgtest"
	"github.com/keygate/keygate/internal/poll"
	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/keystore/storetest"
	"github.com/keygate/keygate/verify"
)

// following is a verifier that a Follow keeps current, with what the
// follower logged and how often the verifier read the store.
type following struct {
	t      *testing.T
	lookup *Store
	v      *verify.Verifier
	reads  atomic.Int64
	logs   *observer.ObservedLogs
}

// LookupCredential counts the verifier's reads.
func (f *following) LookupCredential(ctx context.Context, h keystore.Hash) (keystore.Credential, error) {
	f.reads.Add(1)
	return f.lookup.LookupCredential(ctx, h)
}

// follow runs feed.Follow, with its settings changed by edit (if not nil),
// for a verifier that reads lookup, and returns once it follows the feed.
// It stops when t ends. The verifier's TTLs are long: only the feed can
// change what it caches.
func follow(t *testing.T, feed, lookup *Store, edit func(*feedSettings)) *following {
	t.Helper()
	if edit != nil {
		edit(&feed.feed)
	}
	f := &following{t: t, lookup: lookup}
	v, err := verify.NewVerifier(f, verify.VerifierConfig{TTL: time.Hour, NegativeTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	core, logs := observer.New(zapcore.DebugLevel)
	f.logs = logs
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- feed.Follow(ctx, v, zap.New(core)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Follow returned %v after its context ended, want context.Canceled", err)
		}
		v.Close()
	})
	f.waitLog("following the change feed")
	t.Cleanup(func() {
		if t.Failed() {
			for _, e := range logs.All() {
				t.Logf("follower log: %s %s %v", e.Level, e.Message, e.ContextMap())
			}
		}
	})
	return f
}

// waitLog waits until the follower has logged msg.
func (f *following) waitLog(msg string) observer.LoggedEntry {
	f.t.Helper()
	var found []observer.LoggedEntry
	poll.Until(f.t, 10*time.Second, "log entry "+msg, func() (bool, string) {
		found = f.logs.FilterMessage(msg).All()
		return len(found) > 0, fmt.Sprintf("%d entries, none with this message", f.logs.Len())
	})
	return found[0]
}

// assertQuiet fails t if the follower logged anything at warn or above:
// nothing went wrong.
func (f *following) assertQuiet() {
	f.t.Helper()
	for _, e := range f.logs.All() {
		if e.Level >= zapcore.WarnLevel {
			f.t.Errorf("follower logged at %s: %s %v", e.Level, e.Message, e.ContextMap())
		}
	}
}

// verify asks the verifier about a key.
func (f *following) verify(h keystore.Hash) (keystore.Credential, error) {
	return f.v.Verify(context.Background(), h)
}

// mustVerify fails t unless the verifier accepts the key.
func (f *following) mustVerify(h keystore.Hash) keystore.Credential {
	f.t.Helper()
	c, err := f.verify(h)
	if err != nil {
		f.t.Fatalf("verifying a valid key: %v", err)
	}
	return c
}

// waitVerify waits until the verifier's answer about a key is want (nil:
// accepted).
func (f *following) waitVerify(what string, h keystore.Hash, want error) {
	f.t.Helper()
	poll.Until(f.t, 10*time.Second, what, func() (bool, string) {
		_, err := f.verify(h)
		return errors.Is(err, want) || err == want, fmt.Sprintf("Verify returns %v, want %v", err, want)
	})
}

// openWeather opens a store on a fresh database that has one
// integration, weather.
func openWeather(t *testing.T) *Store {
	t.Helper()
	s := open(t, pgtest.URL(t))
	addIntegration(t, s, "weather")
	return s
}

// addIntegration stores an integration at https://<id>.example.com.
func addIntegration(t *testing.T, s *Store, id string) {
	t.Helper()
	if err := s.CreateIntegration(t.Context(), keystore.Integration{ID: id, BaseURL: "https://" + id + ".example.com"}); err != nil {
		t.Fatal(err)
	}
}

// addKey stores a new key of the integration and returns it.
func addKey(t *testing.T, s *Store, integration string) keystore.NewKey {
	t.Helper()
	k := storetest.NewKey(t, integration, "feed test", time.Time{})
	if err := s.CreateKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	return k
}

// exec runs one statement on the store's database, as an operator with
// psql would.
func exec(t *testing.T, s *Store, sql string, args ...any) {
	t.Helper()
	if _, err := s.Pool().Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// queryInt runs a query that returns one integer.
func queryInt(t *testing.T, s *Store, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := s.Pool().QueryRow(t.Context(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// terminateFeed ends the backends of the change feed's connections to the
// store's database, as pg_terminate_backend by an operator or a failover
// would, and returns how many there were.
func terminateFeed(t *testing.T, s *Store) int64 {
	t.Helper()
	return queryInt(t, s, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()`, FeedApplicationName)
}

// connGate holds the follower's connection attempts while it is shut.
type connGate struct {
	mu      sync.Mutex
	open    chan struct{} // closed while the gate is open
	blocked chan struct{} // receives when an attempt waits at the gate
}

func newConnGate() *connGate {
	g := &connGate{open: make(chan struct{}), blocked: make(chan struct{}, 1)}
	close(g.open)
	return g
}

// wait is the follower's beforeConnect.
func (g *connGate) wait(ctx context.Context) error {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
		return nil
	default:
	}
	select {
	case g.blocked <- struct{}{}:
	default:
	}
	select {
	case <-open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shut makes connection attempts wait until reopen.
func (g *connGate) shut() {
	g.mu.Lock()
	g.open = make(chan struct{})
	g.mu.Unlock()
}

// reopen lets connection attempts through.
func (g *connGate) reopen() {
	g.mu.Lock()
	close(g.open)
	g.mu.Unlock()
}

// waitBlocked waits until a connection attempt waits at the gate.
func (g *connGate) waitBlocked(t *testing.T) {
	t.Helper()
	select {
	case <-g.blocked:
	case <-time.After(10 * time.Second):
		t.Fatal("the follower did not try to reconnect within 10s")
	}
}
