// Package verify is what a gateway keeps in memory in front of a key
// store: the caching Verifier (ristretto, singleflight, negative entries,
// invalidation by the change feed, the lookup cap and rate), the per-IP
// FailureLimiter and the UsageRecorder of last_used_at. It knows nothing
// of Caddy, and the stores know nothing of it: they apply their feed to a
// keystore.Cache.
package verify

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/keygate/keygate/keystore"
	"golang.org/x/sync/singleflight"
)

// ErrNotCached: VerifyCached found no entry that may answer for the key,
// and did not ask the store.
var ErrNotCached = errors.New("key not cached")

// Lookuper is the part of a Store the verifier needs.
type Lookuper interface {
	LookupCredential(ctx context.Context, hash keystore.Hash) (keystore.Credential, error)
}

// VerifierConfig tunes a Verifier; zero values take the defaults.
type VerifierConfig struct {
	// MaxCost is the cache's memory budget in bytes, ristretto's own
	// bookkeeping included. Default 64 MiB.
	MaxCost int64
	// TTL bounds how long a key record is trusted without reading the store
	// again. Default 30s.
	TTL time.Duration
	// NegativeTTL is how long a well-formed but unknown key is remembered as
	// unknown. Default 5s.
	NegativeTTL time.Duration
	// LookupTimeout bounds one store lookup. Default 3s.
	LookupTimeout time.Duration
	// StaleTTL bounds how long cached entries stay valid after the change
	// feed was last known healthy (see FeedHealthy). Default 30s.
	StaleTTL time.Duration
	// MaxConcurrentLookups bounds the store lookups under way at once;
	// past it, a key that needs the store is refused with ErrLookupsBusy.
	// Default DefaultMaxConcurrentLookups.
	MaxConcurrentLookups int
	// MaxLookupRate bounds the store lookups started per second, on
	// average, with bursts of up to one second's worth; past it, a key
	// that needs the store is refused with ErrLookupsBusy. It keeps a
	// flood of unknown keys from many addresses from costing the database
	// more than this, however fast it answers. Negative: no limit.
	// Default DefaultMaxLookupRate.
	MaxLookupRate float64
	// Metrics receive the verifier's measurements; nil ones are skipped.
	Metrics Metrics
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Default verifier settings.
const (
	DefaultCacheBytes    = 64 << 20
	DefaultTTL           = 30 * time.Second
	DefaultNegativeTTL   = 5 * time.Second
	DefaultLookupTimeout = 3 * time.Second
	DefaultStaleTTL      = 30 * time.Second
)

// Verifier answers "is this key valid, and whose is it?" from a ristretto
// cache in front of a store. Concurrent first uses of one key share one
// store lookup; unknown keys are remembered briefly.
//
// Invalidate and DropAll make cached entries misses at once, and no entry
// read from the store before an invalidation can come back after it:
// ristretto applies Set asynchronously, so every entry is stamped with the
// invalidation generation and cache epoch current when its read began, and
// is checked against them when it is read.
type Verifier struct {
	store   Lookuper
	cache   *ristretto.Cache[uint64, *entry]
	group   singleflight.Group
	now     func() time.Time
	ttl     time.Duration
	negTTL  time.Duration
	timeout time.Duration
	stale   time.Duration
	metrics Metrics
	lookups lookupCap
	rate    *lookupRate

	// feedAt is when the change feed was last known healthy, in Unix
	// nanoseconds; 0 while no feed reports, and entries then live by TTL
	// alone.
	feedAt atomic.Int64

	// fenced holds the error every Verify answers with while Fence is in
	// force, nil otherwise.
	fenced atomic.Pointer[error]

	epoch atomic.Uint64 // bumped by DropAll
	gen   atomic.Uint64 // bumped by every Invalidate, after its tombstone

	mu         sync.RWMutex
	tombstones map[keystore.Hash]tombstone // recent invalidations, by hash
	pruned     time.Time
}

type tombstone struct {
	gen uint64
	at  time.Time
}

// entry is one cached lookup result: a credential, or the fact that no key
// has this hash.
type entry struct {
	hash    keystore.Hash
	found   bool
	cred    keystore.Credential
	expires time.Time
	readAt  time.Time // when the store read began
	epoch   uint64
	readGen uint64        // gen when the store read began
	checked atomic.Uint64 // gen up to which no tombstone applies
}

// entryOverhead approximates an entry's fixed size plus ristretto's map
// slot for it; ristretto adds its own ~56 bytes per item on top.
const entryOverhead = int64(unsafe.Sizeof(entry{})) + 48

// tombstoneLife is how long an invalidation is remembered: longer than any
// store read that could have begun before it.
func (v *Verifier) tombstoneLife() time.Duration { return 2*v.timeout + time.Minute }

// NewVerifier returns a verifier over store. Close it to stop the cache's
// goroutines.
func NewVerifier(store Lookuper, cfg VerifierConfig) (*Verifier, error) {
	if cfg.MaxCost == 0 {
		cfg.MaxCost = DefaultCacheBytes
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.NegativeTTL == 0 {
		cfg.NegativeTTL = DefaultNegativeTTL
	}
	if cfg.LookupTimeout == 0 {
		cfg.LookupTimeout = DefaultLookupTimeout
	}
	if cfg.StaleTTL == 0 {
		cfg.StaleTTL = DefaultStaleTTL
	}
	if cfg.MaxConcurrentLookups == 0 {
		cfg.MaxConcurrentLookups = DefaultMaxConcurrentLookups
	}
	if cfg.MaxLookupRate == 0 {
		cfg.MaxLookupRate = DefaultMaxLookupRate
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxConcurrentLookups < 0 || cfg.MaxCost < 0 || cfg.TTL < 0 || cfg.NegativeTTL < 0 || cfg.LookupTimeout < 0 || cfg.StaleTTL < 0 {
		return nil, errors.New("verifier settings must not be negative")
	}
	// ristretto wants ~10 counters per item it may hold.
	items := cfg.MaxCost/(entryOverhead+56+64) + 1
	cache, err := ristretto.NewCache(&ristretto.Config[uint64, *entry]{
		NumCounters: 10 * items,
		MaxCost:     cfg.MaxCost,
		BufferItems: 64,
	})
	if err != nil {
		return nil, fmt.Errorf("creating key cache: %w", err)
	}
	return &Verifier{
		store:      store,
		cache:      cache,
		now:        cfg.Now,
		ttl:        cfg.TTL,
		negTTL:     cfg.NegativeTTL,
		timeout:    cfg.LookupTimeout,
		stale:      cfg.StaleTTL,
		metrics:    cfg.Metrics.withDefaults(),
		lookups:    lookupCap{max: int64(cfg.MaxConcurrentLookups)},
		rate:       newLookupRate(cfg.MaxLookupRate),
		tombstones: make(map[keystore.Hash]tombstone),
	}, nil
}

// Close releases the cache.
func (v *Verifier) Close() { v.cache.Close() }

// cacheKey is ristretto's key for a hash: its first 8 bytes. Entries carry
// the whole hash, so a collision is a miss, never a wrong answer.
func cacheKey(h keystore.Hash) uint64 { return binary.LittleEndian.Uint64(h[:8]) }

// Verify returns the credential of the key with this hash, or why it is
// refused: ErrUnknownKey, ErrRevoked or ErrExpired (with the credential, for
// the log), or an error wrapping ErrStoreUnavailable when the key is not
// cached and the store cannot answer (ErrLookupsBusy when it has too many
// lookups under way).
//
// While a Fence is in force it refuses every key with the fence's error,
// cached or not.
func (v *Verifier) Verify(ctx context.Context, hash keystore.Hash) (keystore.Credential, error) {
	if err := v.fenced.Load(); err != nil {
		return keystore.Credential{}, *err
	}
	now := v.now()
	if e, ok := v.cache.Get(cacheKey(hash)); ok && v.current(e, hash, now) {
		v.metrics.CacheHits.Inc()
		return e.result(now)
	}
	v.metrics.CacheMisses.Inc()
	e, err := v.load(ctx, hash, func(ctx context.Context) (keystore.Credential, error) { return v.store.LookupCredential(ctx, hash) })
	if err != nil {
		return keystore.Credential{}, err
	}
	return e.result(now)
}

// VerifyCached answers like Verify from the cache alone: it never asks the
// store, and refuses a key without a cached entry that may answer now
// with ErrNotCached. It is for clients that must cost no lookup, such as
// one over the failed-authentication limit.
func (v *Verifier) VerifyCached(hash keystore.Hash) (keystore.Credential, error) {
	if err := v.fenced.Load(); err != nil {
		return keystore.Credential{}, *err
	}
	now := v.now()
	e, ok := v.cache.Get(cacheKey(hash))
	if !ok || !v.current(e, hash, now) {
		return keystore.Credential{}, ErrNotCached
	}
	v.metrics.CacheHits.Inc()
	return e.result(now)
}

// Fence makes Verify and VerifyCached refuse every key with err, which
// should wrap keystore.ErrStoreUnavailable, until Unfence: for a store that knows
// that neither it nor what was cached from it can be trusted, such as an
// embedded database whose file was removed or replaced. It costs Verify
// one atomic load.
func (v *Verifier) Fence(err error) { v.fenced.Store(&err) }

// Unfence ends a Fence, if one is in force, and then drops the cache: what
// it held was read before the fence.
func (v *Verifier) Unfence() {
	if v.fenced.Swap(nil) != nil {
		v.DropAll()
	}
}

// Fenced returns the error of the Fence in force, or nil.
func (v *Verifier) Fenced() error {
	if err := v.fenced.Load(); err != nil {
		return *err
	}
	return nil
}

// current reports whether a cached entry may answer for hash now.
func (v *Verifier) current(e *entry, hash keystore.Hash, now time.Time) bool {
	if e.hash != hash || e.epoch != v.epoch.Load() || !now.Before(e.expires) {
		return false
	}
	if f := v.feedAt.Load(); f != 0 && now.UnixNano()-f > int64(v.stale) {
		return false // the feed has been down too long to trust the cache
	}
	gen := v.gen.Load()
	if e.checked.Load() >= gen {
		return true
	}
	// Something was invalidated since this entry was last checked: was it
	// this key, after the entry was read?
	if v.invalidatedSince(hash, e.readGen) {
		return false
	}
	e.checked.Store(gen)
	return true
}

// invalidatedSince reports whether hash was invalidated after generation
// gen.
func (v *Verifier) invalidatedSince(hash keystore.Hash, gen uint64) bool {
	return v.invalidatedBetween(hash, gen, ^uint64(0))
}

// invalidatedBetween reports whether hash was invalidated after generation
// from and no later than generation to.
func (v *Verifier) invalidatedBetween(hash keystore.Hash, from, to uint64) bool {
	v.mu.RLock()
	t, ok := v.tombstones[hash]
	v.mu.RUnlock()
	return ok && t.gen > from && t.gen <= to
}

func (e *entry) result(now time.Time) (keystore.Credential, error) {
	switch {
	case !e.found:
		return keystore.Credential{}, keystore.ErrUnknownKey
	case !e.cred.RevokedAt.IsZero():
		return e.cred, keystore.ErrRevoked
	case !e.cred.ExpiresAt.IsZero() && !now.Before(e.cred.ExpiresAt):
		return e.cred, keystore.ErrExpired
	}
	return e.cred, nil
}

// load reads hash from the store, once for all concurrent callers, and
// caches what it found. Store failures are returned, never cached.
//
// A caller may join a read that began before an invalidation or DropAll
// that happened before the caller asked; it then starts a read of its own,
// which begins after both.
func (v *Verifier) load(ctx context.Context, hash keystore.Hash, fetch fetchFunc) (*entry, error) {
	key := string(hash[:])
	gen, epoch := v.gen.Load(), v.epoch.Load()
	for attempt := 0; ; attempt++ {
		res, err, _ := v.group.Do(key, func() (any, error) { return v.read(ctx, hash, fetch) })
		if err != nil {
			return nil, err
		}
		e := res.(*entry)
		if attempt > 0 || (e.epoch >= epoch && !v.invalidatedBetween(hash, e.readGen, gen)) {
			return e, nil
		}
		v.group.Forget(key)
	}
}

// fetchFunc reads one credential from the store.
type fetchFunc func(ctx context.Context) (keystore.Credential, error)

// read looks hash up in the store with fetch and caches the answer.
func (v *Verifier) read(ctx context.Context, hash keystore.Hash, fetch fetchFunc) (*entry, error) {
	// A flight that just ended has cached its result (put waits for the
	// Set): callers that missed it must not read the store again.
	if e, ok := v.cache.Get(cacheKey(hash)); ok && v.current(e, hash, v.now()) {
		return e, nil
	}
	readAt := v.now()
	readGen, epoch := v.gen.Load(), v.epoch.Load()
	cred, err := v.lookup(ctx, fetch)
	e := &entry{hash: hash, readAt: readAt, epoch: epoch, readGen: readGen}
	e.checked.Store(readGen)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		e.expires = v.now().Add(v.negTTL)
	case errors.Is(err, ErrLookupsBusy):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: looking up key: %w", keystore.ErrStoreUnavailable, err)
	default:
		e.found, e.cred = true, cred
		e.expires = v.now().Add(v.ttl)
	}
	v.put(e)
	return e, nil
}

// lookup asks the store, within the lookup rate, the cap on concurrent
// lookups and the lookup timeout, and measures it.
func (v *Verifier) lookup(ctx context.Context, fetch fetchFunc) (keystore.Credential, error) {
	if !v.rate.allow(v.now().UnixNano()) {
		v.metrics.LookupRateRefused.Inc()
		return keystore.Credential{}, ErrLookupsBusy
	}
	if !v.lookups.acquire() {
		v.metrics.LookupsRefused.Inc()
		return keystore.Credential{}, ErrLookupsBusy
	}
	defer v.lookups.release()
	v.metrics.LookupsInFlight.Inc()
	defer v.metrics.LookupsInFlight.Dec()
	// One caller giving up must not fail the others sharing this read.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.timeout)
	defer cancel()
	began := time.Now()
	cred, err := fetch(ctx)
	v.metrics.LookupDuration.Observe(time.Since(began).Seconds())
	return cred, err
}

// put caches e and waits until the cache holds it, so that a caller
// arriving after this flight finds it. It then deletes e again if its key
// was invalidated while it was being read: ristretto applies a Set and a
// later Del in order, so a read that raced an invalidation never stays
// cached (and current refuses it in the meantime).
func (v *Verifier) put(e *entry) {
	k := cacheKey(e.hash)
	c := e.cred
	cost := entryOverhead + int64(len(c.KeyID)+len(c.KeyName)+len(c.IntegrationID)+len(c.BaseURL))
	v.cache.SetWithTTL(k, e, cost, e.expires.Sub(v.now()))
	v.cache.Wait()
	if v.gen.Load() != e.readGen && v.invalidatedSince(e.hash, e.readGen) {
		v.cache.Del(k)
	}
}

// Invalidate makes the cached entry of hash a miss at once, including one
// whose store read is still in flight.
func (v *Verifier) Invalidate(hash keystore.Hash) {
	now := v.now()
	v.mu.Lock()
	gen := v.gen.Load() + 1
	v.tombstones[hash] = tombstone{gen: gen, at: now}
	// Published after the tombstone, under the lock: a reader that sees
	// this gen also sees the tombstone.
	v.gen.Store(gen)
	if now.Sub(v.pruned) > v.tombstoneLife() {
		for h, t := range v.tombstones {
			if now.Sub(t.at) > v.tombstoneLife() {
				delete(v.tombstones, h)
			}
		}
		v.pruned = now
	}
	v.mu.Unlock()
	v.cache.Del(cacheKey(hash))
}

// DropAll makes every cached entry a miss, in O(1).
func (v *Verifier) DropAll() { v.epoch.Add(1) }

// InvalidateKeyID invalidates the cached entries of the key with this
// public id and returns how many there were. It walks the whole cache: it
// is an operator's tool, for when the store cannot tell the key's hash.
func (v *Verifier) InvalidateKeyID(id string) int {
	var hashes []keystore.Hash
	v.eachCached(func(e *entry) {
		if e.found && e.cred.KeyID == id {
			hashes = append(hashes, e.hash)
		}
	})
	for _, h := range hashes {
		v.Invalidate(h)
	}
	return len(hashes)
}

// Len returns how many entries the cache holds that DropAll would drop,
// by walking it.
func (v *Verifier) Len() int {
	n := 0
	v.eachCached(func(*entry) { n++ })
	return n
}

// eachCached calls fn, under a lock of the cache, for each entry of the
// current epoch that has not expired.
func (v *Verifier) eachCached(fn func(*entry)) {
	epoch, now := v.epoch.Load(), v.now()
	v.cache.IterValues(func(e *entry) bool {
		if e.epoch == epoch && now.Before(e.expires) {
			fn(e)
		}
		return false
	})
}

// FeedHealthy records that every change committed before `at` has been
// applied: a follower calls it with the time its last successful feed read
// began. From the first call on, cached entries are trusted only while the
// last such time is within StaleTTL.
func (v *Verifier) FeedHealthy(at time.Time) { v.feedAt.Store(at.UnixNano()) }

// FeedReconnected records, for metrics, that the change feed works again
// after failing: followers call it.
func (v *Verifier) FeedReconnected() { v.metrics.FeedReconnects.Inc() }

// FeedLag returns how long ago the change feed was last known healthy, and
// false when no feed has reported.
func (v *Verifier) FeedLag(now time.Time) (time.Duration, bool) {
	f := v.feedAt.Load()
	if f == 0 {
		return 0, false
	}
	return time.Duration(now.UnixNano() - f), true
}

// Interface guards
var (
	_ keystore.Cache  = (*Verifier)(nil)
	_ keystore.Fencer = (*Verifier)(nil)
)
