package verify

import (
	"context"
	"errors"
	"testing"

	"github.com/keygate/keygate/keystore"
)

func TestInvalidateKeyID(t *testing.T) {
	s, clock, v := newFixture(t)
	a, b, unknown := testKey(t), testKey(t), testKey(t)
	other := testCred
	other.KeyID = "kid_00000000000000000002"
	s.set(a, testCred)
	s.set(b, other)
	for _, h := range []keystore.Hash{a, b} {
		if _, err := v.Verify(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Verify(context.Background(), unknown); !errors.Is(err, keystore.ErrUnknownKey) {
		t.Fatal(err)
	}
	if n := v.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3: two keys and an unknown one", n)
	}

	if n := v.InvalidateKeyID(testCred.KeyID); n != 1 {
		t.Fatalf("InvalidateKeyID dropped %d entries, want 1", n)
	}
	if n := v.InvalidateKeyID("kid_99999999999999999999"); n != 0 {
		t.Fatalf("InvalidateKeyID of an id not cached dropped %d entries", n)
	}
	lookups := s.lookups.Load()
	for _, h := range []keystore.Hash{a, b} {
		if _, err := v.Verify(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.lookups.Load() - lookups; n != 1 {
		t.Fatalf("%d lookups after dropping one key, want 1: only that key is read again", n)
	}

	v.DropAll()
	if n := v.Len(); n != 0 {
		t.Fatalf("Len after DropAll = %d, want 0", n)
	}
	clock.Advance(DefaultTTL)
	if _, err := v.Verify(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultTTL)
	if n := v.Len(); n != 0 {
		t.Fatalf("Len counts an expired entry: %d", n)
	}
}
