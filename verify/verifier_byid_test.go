package verify

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
)

// idStore is a memStore that also answers by key id, from the same
// credentials.
type idStore struct{ *memStore }

func (s idStore) LookupCredentialByID(ctx context.Context, id string) (keystore.Credential, error) {
	s.mu.Lock()
	var hash keystore.Hash
	found := false
	for h, c := range s.creds {
		if c.KeyID == id {
			hash, found = h, true
		}
	}
	s.mu.Unlock()
	if !found {
		s.lookups.Add(1)
		return keystore.Credential{}, keystore.ErrNotFound
	}
	return s.LookupCredential(ctx, hash)
}

// TestVerifyKeyIDSharesInvalidation: a key's credential by id is cached,
// and the feed change of that key (which names it by hash and id) makes
// the next read see its revocation.
func TestVerifyKeyIDSharesInvalidation(t *testing.T) {
	mem, clock := newMemStore(), &fakeClock{now: time.Unix(1e9, 0)}
	v := newTestVerifier(t, idStore{mem}, clock)
	h := testKey(t)
	mem.set(h, testCred)
	idh := keystore.IDHash(testCred.KeyID)
	for range 3 {
		if c, err := v.VerifyKeyID(context.Background(), testCred.KeyID, idh, nil); err != nil || c.KeyID != testCred.KeyID {
			t.Fatalf("VerifyKeyID = %+v, %v", c, err)
		}
	}
	if n := mem.lookups.Load(); n != 1 {
		t.Fatalf("%d lookups for three uses, want 1", n)
	}
	revoked := testCred
	revoked.RevokedAt = clock.Now()
	mem.set(h, revoked)
	keystore.ApplyFeed(v, zap.NewNop(), 0, 0, []keystore.FeedChange{{Seq: 1, KeyID: testCred.KeyID, KeyHash: h[:], Op: "update"}})
	if _, err := v.VerifyKeyID(context.Background(), testCred.KeyID, idh, nil); !errors.Is(err, keystore.ErrRevoked) {
		t.Fatalf("after the key's feed change: err = %v, want ErrRevoked", err)
	}
	if _, err := v.VerifyKeyID(context.Background(), "kid_unknown", keystore.IDHash("kid_unknown"), nil); !errors.Is(err, keystore.ErrUnknownKey) {
		t.Fatalf("unknown id: err = %v, want ErrUnknownKey", err)
	}
}

// TestVerifyKeyIDStoreDown: with the store down, a cached parent answers
// until stale_ttl past the feed's last health, then the store is needed.
func TestVerifyKeyIDStoreDown(t *testing.T) {
	mem, clock := newMemStore(), &fakeClock{now: time.Unix(1e9, 0)}
	v := newTestVerifier(t, idStore{mem}, clock)
	h := testKey(t)
	mem.set(h, testCred)
	idh := keystore.IDHash(testCred.KeyID)
	v.FeedHealthy(clock.Now())
	if _, err := v.VerifyKeyID(context.Background(), testCred.KeyID, idh, nil); err != nil {
		t.Fatal(err)
	}
	mem.setErr(errors.New("down"))
	clock.Advance(DefaultStaleTTL - time.Second)
	if _, err := v.VerifyKeyID(context.Background(), testCred.KeyID, idh, nil); err != nil {
		t.Fatalf("within stale_ttl: %v", err)
	}
	clock.Advance(2 * time.Second)
	if _, err := v.VerifyKeyID(context.Background(), testCred.KeyID, idh, nil); !errors.Is(err, keystore.ErrStoreUnavailable) {
		t.Fatalf("past stale_ttl: err = %v, want ErrStoreUnavailable", err)
	}
}

// TestKeySlotAnswersWithoutTheCache: an answer held in a slot answers
// without the cache (here: after ristretto dropped the entry, as it may
// under memory pressure); without the slot, the key is not cached.
func TestKeySlotAnswersWithoutTheCache(t *testing.T) {
	mem, clock := newMemStore(), &fakeClock{now: time.Unix(1e9, 0)}
	v := newTestVerifier(t, idStore{mem}, clock)
	mem.set(testKey(t), testCred)
	idh := keystore.IDHash(testCred.KeyID)
	var slot KeySlot
	if _, err := v.VerifyKeyID(context.Background(), testCred.KeyID, idh, &slot); err != nil {
		t.Fatal(err)
	}
	v.cache.Del(cacheKey(idh))
	v.cache.Wait()
	if _, err := v.VerifyKeyIDCached(idh, nil); !errors.Is(err, ErrNotCached) {
		t.Fatalf("without the slot: err = %v, want ErrNotCached", err)
	}
	if c, err := v.VerifyKeyIDCached(idh, &slot); err != nil || c.KeyID != testCred.KeyID {
		t.Fatalf("through the slot: %+v, %v; want the key", c, err)
	}
	if n := mem.lookups.Load(); n != 1 {
		t.Fatalf("%d lookups, want 1", n)
	}
}

// TestKeySlotRefusedLikeTheCache: an answer held in a slot stops answering
// whenever the cache's entry would: the key's feed change, DropAll, the
// TTL, a stale feed, a Fence; and it never outlives the tombstone of its
// key's invalidation, even with a TTL longer than tombstones are kept.
func TestKeySlotRefusedLikeTheCache(t *testing.T) {
	fenceErr := fmt.Errorf("%w: fenced", keystore.ErrStoreUnavailable)
	cases := []struct {
		name   string
		change func(v *Verifier, mem *memStore, clock *fakeClock, h keystore.Hash)
		want   error
	}{
		{"feed change", func(v *Verifier, mem *memStore, _ *fakeClock, h keystore.Hash) {
			keystore.ApplyFeed(v, zap.NewNop(), 0, 0, []keystore.FeedChange{{Seq: 1, KeyID: testCred.KeyID, KeyHash: h[:], Op: "update"}})
		}, keystore.ErrRevoked},
		{"drop all", func(v *Verifier, _ *memStore, _ *fakeClock, _ keystore.Hash) { v.DropAll() }, keystore.ErrRevoked},
		{"ttl", func(_ *Verifier, _ *memStore, clock *fakeClock, _ keystore.Hash) {
			clock.Advance(31 * time.Second) // past the TTL, within tombstoneLife
		}, keystore.ErrRevoked},
		{"stale feed", func(v *Verifier, mem *memStore, clock *fakeClock, _ keystore.Hash) {
			mem.setErr(errors.New("down"))
			clock.Advance(DefaultStaleTTL + time.Second)
		}, keystore.ErrStoreUnavailable},
		{"fence", func(v *Verifier, _ *memStore, _ *fakeClock, _ keystore.Hash) { v.Fence(fenceErr) }, fenceErr},
		{"tombstone pruned", func(v *Verifier, _ *memStore, clock *fakeClock, h keystore.Hash) {
			keystore.ApplyFeed(v, zap.NewNop(), 0, 0, []keystore.FeedChange{{Seq: 1, KeyID: testCred.KeyID, KeyHash: h[:], Op: "update"}})
			clock.Advance(v.tombstoneLife() + time.Minute)
			v.Invalidate(testKey(t)) // another key's change prunes the old tombstones
			if len(v.tombstones) != 1 {
				t.Fatalf("%d tombstones, want the old one pruned", len(v.tombstones))
			}
		}, keystore.ErrRevoked},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem, clock := newMemStore(), &fakeClock{now: time.Unix(1e9, 0)}
			ttl := 10 * time.Hour // longer than tombstones are kept
			if tc.name == "ttl" {
				ttl = 30 * time.Second
			}
			v, err := NewVerifier(idStore{mem}, VerifierConfig{MaxCost: 1 << 20, TTL: ttl, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(v.Close)
			v.FeedHealthy(clock.Now())
			h := testKey(t)
			mem.set(h, testCred)
			idh := keystore.IDHash(testCred.KeyID)
			var slot KeySlot
			if _, err := v.VerifyKeyID(context.Background(), testCred.KeyID, idh, &slot); err != nil {
				t.Fatal(err)
			}
			revoked := testCred
			revoked.RevokedAt = clock.Now()
			mem.set(h, revoked)
			tc.change(v, mem, clock, h)
			if tc.name != "stale feed" {
				v.FeedHealthy(clock.Now())
			}
			if _, err := v.VerifyKeyIDCached(idh, &slot); err == nil {
				t.Fatalf("cache only, through the slot: the old answer held")
			}
			if _, err := v.VerifyKeyID(context.Background(), testCred.KeyID, idh, &slot); !errors.Is(err, tc.want) {
				t.Fatalf("through the slot: err = %v, want %v", err, tc.want)
			}
		})
	}
}
