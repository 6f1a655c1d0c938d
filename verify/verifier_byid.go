package verify

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/keystore"
)

// IDLookuper is implemented by stores that look a key's credential up by
// the key's id, as the parent key of an access token is known.
type IDLookuper interface {
	LookupCredentialByID(ctx context.Context, id string) (keystore.Credential, error)
}

// KeySlot holds the verifier's answer for one key, for a caller that asks
// about the same key over and over (an access token, which names its key
// by id): while that answer holds, VerifyKeyID through the slot answers
// from it without a cache lookup. It is refused exactly when the cache's
// own entry would be (an invalidation by the feed, DropAll, its TTL, a
// stale feed, a Fence). The zero KeySlot is empty; it is safe for
// concurrent use.
type KeySlot struct{ e atomic.Pointer[entry] }

// VerifyKeyID is Verify for the key with this id, whose keystore.IDHash is
// idHash (callers that hold it spare the hashing): it answers from slot,
// or the cache, when it can and reads the store by id otherwise, with the
// same errors. slot may be nil.
func (v *Verifier) VerifyKeyID(ctx context.Context, id string, idHash keystore.Hash, slot *KeySlot) (keystore.Credential, error) {
	if err := v.fenced.Load(); err != nil {
		return keystore.Credential{}, *err
	}
	now := v.now()
	if e, ok := v.cachedByID(idHash, slot, now); ok {
		return e.result(now)
	}
	v.metrics.CacheMisses.Inc()
	byID, ok := v.store.(IDLookuper)
	if !ok {
		return keystore.Credential{}, fmt.Errorf("%w: the key store cannot look keys up by id", keystore.ErrStoreUnavailable)
	}
	e, err := v.load(ctx, idHash, func(ctx context.Context) (keystore.Credential, error) { return byID.LookupCredentialByID(ctx, id) })
	if err != nil {
		return keystore.Credential{}, err
	}
	slot.hold(e)
	return e.result(now)
}

// VerifyKeyIDCached is VerifyKeyID from slot and the cache alone, like
// VerifyCached: ErrNotCached when neither may answer.
func (v *Verifier) VerifyKeyIDCached(idHash keystore.Hash, slot *KeySlot) (keystore.Credential, error) {
	if err := v.fenced.Load(); err != nil {
		return keystore.Credential{}, *err
	}
	now := v.now()
	e, ok := v.cachedByID(idHash, slot, now)
	if !ok {
		return keystore.Credential{}, ErrNotCached
	}
	return e.result(now)
}

// cachedByID returns the entry of idHash that may answer now, from slot
// or else from the cache (then held in slot), and counts a hit.
func (v *Verifier) cachedByID(idHash keystore.Hash, slot *KeySlot, now time.Time) (*entry, bool) {
	if slot != nil {
		if e := slot.e.Load(); e != nil && v.heldCurrent(e, idHash, now) {
			v.metrics.CacheHits.Inc()
			return e, true
		}
	}
	e, ok := v.cache.Get(cacheKey(idHash))
	if !ok || !v.current(e, idHash, now) {
		return nil, false
	}
	v.metrics.CacheHits.Inc()
	slot.hold(e)
	return e, true
}

// heldCurrent is current for an entry held outside the cache. Unlike the
// cache, which drops an invalidated entry, a slot keeps it: the entry is
// then refused by its key's tombstone, so it may answer only while every
// tombstone that could apply to it is still kept.
func (v *Verifier) heldCurrent(e *entry, hash keystore.Hash, now time.Time) bool {
	return now.Sub(e.readAt) < v.tombstoneLife() && v.current(e, hash, now)
}

// hold keeps e in the slot, if there is one.
func (s *KeySlot) hold(e *entry) {
	if s != nil {
		s.e.Store(e)
	}
}
