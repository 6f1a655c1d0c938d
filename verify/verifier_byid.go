package verify

import (
	"context"
	"fmt"

	"github.com/keygate/keygate/keystore"
)

// IDLookuper is implemented by stores that look a key's credential up by
// the key's id, as the parent key of an access token is known.
type IDLookuper interface {
	LookupCredentialByID(ctx context.Context, id string) (keystore.Credential, error)
}

// VerifyKeyID is Verify for the key with this id, whose keystore.IDHash is
// idHash (callers that hold it spare the hashing): it answers from the
// cache when it can and reads the store by id otherwise, with the same
// errors.
func (v *Verifier) VerifyKeyID(ctx context.Context, id string, idHash keystore.Hash) (keystore.Credential, error) {
	if err := v.fenced.Load(); err != nil {
		return keystore.Credential{}, *err
	}
	now := v.now()
	if e, ok := v.cache.Get(cacheKey(idHash)); ok && v.current(e, idHash, now) {
		v.metrics.CacheHits.Inc()
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
	return e.result(now)
}
