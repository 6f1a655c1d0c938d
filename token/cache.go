package token

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"time"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/verify"
)

// Cache remembers verified tokens, so that the second use of a token costs
// a map lookup and a string comparison rather than a signature check.
// Tokens never change: an entry lives until the token expires. Whether the
// token's key still holds is not the cache's business: the caller asks the
// key verifier by id on every use (verify.Verifier.VerifyKeyID with
// Verified.IDHash and Verified.Key, which makes that ask a check of the
// answer held there rather than a second cache lookup).
type Cache struct {
	ring  *Ring
	cache *ristretto.Cache[uint64, *Verified]
	seed  maphash.Seed
	now   func() time.Time
}

// Verified is a verified token's claims and its key's IDHash.
type Verified struct {
	raw    string
	Claims Claims
	IDHash keystore.Hash
	// Key holds the verifier's answer for the token's key, for the
	// caller to pass to VerifyKeyID.
	Key    verify.KeySlot
	expiry time.Time
	kid    string
	set    *KeySet // the key set that verified it
}

// verifiedOverhead approximates an entry's size besides its token.
const verifiedOverhead = 256

// NewCache returns a cache of up to maxCost bytes in front of ring.
func NewCache(ring *Ring, maxCost int64, now func() time.Time) (*Cache, error) {
	if now == nil {
		now = time.Now
	}
	items := maxCost/(verifiedOverhead+600) + 1
	c, err := ristretto.NewCache(&ristretto.Config[uint64, *Verified]{NumCounters: 10 * items, MaxCost: maxCost, BufferItems: 64})
	if err != nil {
		return nil, fmt.Errorf("creating token cache: %w", err)
	}
	return &Cache{ring: ring, cache: c, seed: maphash.MakeSeed(), now: now}, nil
}

// Close releases the cache.
func (c *Cache) Close() { c.cache.Close() }

// keyTail is how much of a token's end its cache key hashes: its
// signature's last bytes, which differ between any two tokens (entries
// compare the whole token, so tokens that share a tail miss, never match).
const keyTail = 32

// key is the cache key of raw.
func (c *Cache) key(raw string) uint64 {
	return maphash.String(c.seed, raw[max(0, len(raw)-keyTail):])
}

// Cached returns the verified token raw from the cache alone, as Verify
// would (its signing key still in the ring, not expired), or false: no
// signature is checked. It is for clients that must cost nothing, such
// as one over the failed-authentication limit.
func (c *Cache) Cached(raw string) (*Verified, bool) {
	v, ok := c.cache.Get(c.key(raw))
	if !ok || v.raw != raw || !c.now().Before(v.expiry) {
		return nil, false
	}
	if set := c.ring.Keys(); v.set != set {
		if _, ok := set.byKID[v.kid]; !ok {
			return nil, false
		}
	}
	return v, true
}

// Verify returns the verified token raw from the cache, or checks it with
// the ring and caches it. A cached token is re-checked when the ring's key
// set has changed since (a signing key may have been withdrawn), and
// refused once it expires: with ErrExpired, and its claims.
func (c *Cache) Verify(ctx context.Context, raw string) (*Verified, error) {
	if v, ok := c.Cached(raw); ok {
		return v, nil
	}
	now := c.now()
	claims, kid, err := c.ring.verify(ctx, raw)
	if errors.Is(err, ErrExpired) {
		return &Verified{Claims: claims, IDHash: keystore.IDHash(claims.KeyID())}, err // not cached: whose it was, for the log
	}
	if err != nil {
		return nil, err
	}
	v := &Verified{raw: raw, Claims: claims, IDHash: keystore.IDHash(claims.KeyID()), expiry: claims.ExpiresAt(), kid: kid, set: c.ring.Keys()}
	c.cache.SetWithTTL(c.key(raw), v, verifiedOverhead+int64(len(raw)), v.expiry.Sub(now))
	return v, nil
}
