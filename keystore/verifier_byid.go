package keystore

import (
	"context"
	"crypto/sha256"
	"fmt"
)

// IDLookuper is implemented by stores that look a key's credential up by
// the key's id, as the parent key of an access token is known.
type IDLookuper interface {
	LookupCredentialByID(ctx context.Context, id string) (Credential, error)
}

// IDHash is where the credential of the key with this id is cached when
// it is looked up by id: in the same cache as keys by their hash, so that
// the same invalidations (ApplyFeed invalidates both), DropAll and
// stale_ttl bound apply. Its preimage cannot be a key.
func IDHash(id string) Hash { return sha256.Sum256([]byte("keygate key id\x00" + id)) }

// VerifyKeyID is Verify for the key with this id, whose IDHash is idHash
// (callers that hold it spare the hashing): it answers from the cache when
// it can and reads the store by id otherwise, with the same errors.
func (v *Verifier) VerifyKeyID(ctx context.Context, id string, idHash Hash) (Credential, error) {
	now := v.now()
	if e, ok := v.cache.Get(cacheKey(idHash)); ok && v.current(e, idHash, now) {
		v.metrics.CacheHits.Inc()
		return e.result(now)
	}
	v.metrics.CacheMisses.Inc()
	byID, ok := v.store.(IDLookuper)
	if !ok {
		return Credential{}, fmt.Errorf("%w: the key store cannot look keys up by id", ErrStoreUnavailable)
	}
	e, err := v.load(ctx, idHash, func(ctx context.Context) (Credential, error) { return byID.LookupCredentialByID(ctx, id) })
	if err != nil {
		return Credential{}, err
	}
	return e.result(now)
}
