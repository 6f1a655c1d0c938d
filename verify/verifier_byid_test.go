package verify

import (
	"context"
	"errors"
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
		if c, err := v.VerifyKeyID(context.Background(), testCred.KeyID, idh); err != nil || c.KeyID != testCred.KeyID {
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
	if _, err := v.VerifyKeyID(context.Background(), testCred.KeyID, idh); !errors.Is(err, keystore.ErrRevoked) {
		t.Fatalf("after the key's feed change: err = %v, want ErrRevoked", err)
	}
	if _, err := v.VerifyKeyID(context.Background(), "kid_unknown", keystore.IDHash("kid_unknown")); !errors.Is(err, keystore.ErrUnknownKey) {
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
	if _, err := v.VerifyKeyID(context.Background(), testCred.KeyID, idh); err != nil {
		t.Fatal(err)
	}
	mem.setErr(errors.New("down"))
	clock.Advance(DefaultStaleTTL - time.Second)
	if _, err := v.VerifyKeyID(context.Background(), testCred.KeyID, idh); err != nil {
		t.Fatalf("within stale_ttl: %v", err)
	}
	clock.Advance(2 * time.Second)
	if _, err := v.VerifyKeyID(context.Background(), testCred.KeyID, idh); !errors.Is(err, keystore.ErrStoreUnavailable) {
		t.Fatalf("past stale_ttl: err = %v, want ErrStoreUnavailable", err)
	}
}
