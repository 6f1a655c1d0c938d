package keystore

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestVerifyCachedNeverLooksUp(t *testing.T) {
	s, _, v := newFixture(t)
	cached, uncached, unknown := testKey(t), testKey(t), testKey(t)
	s.set(cached, testCred)
	s.set(uncached, testCred)
	if _, err := v.Verify(context.Background(), cached); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), unknown); !errors.Is(err, ErrUnknownKey) {
		t.Fatal(err)
	}
	lookups := s.lookups.Load()
	if got, err := v.VerifyCached(cached); err != nil || got != testCred {
		t.Errorf("VerifyCached(cached) = %+v, %v; want the credential", got, err)
	}
	if _, err := v.VerifyCached(uncached); !errors.Is(err, ErrNotCached) {
		t.Errorf("VerifyCached(uncached) = %v, want ErrNotCached", err)
	}
	if _, err := v.VerifyCached(unknown); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("VerifyCached(known unknown) = %v, want ErrUnknownKey", err)
	}
	v.Invalidate(cached)
	if _, err := v.VerifyCached(cached); !errors.Is(err, ErrNotCached) {
		t.Errorf("VerifyCached after Invalidate = %v, want ErrNotCached", err)
	}
	if n := s.lookups.Load() - lookups; n != 0 {
		t.Errorf("VerifyCached cost %d lookups", n)
	}
}

// TestFenceRefusesCachedKeys: while fenced, not even a cached key is
// trusted; after Unfence, the cache is dropped and keys are read again.
func TestFenceRefusesCachedKeys(t *testing.T) {
	s, _, v := newFixture(t)
	h := testKey(t)
	s.set(h, testCred)
	if _, err := v.Verify(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	fence := fmt.Errorf("%w: the database file was removed", ErrStoreUnavailable)
	v.Fence(fence)
	if _, err := v.Verify(context.Background(), h); err != fence {
		t.Errorf("fenced: Verify(cached) = %v, want the fence's error", err)
	}
	if _, err := v.VerifyCached(h); err != fence {
		t.Errorf("fenced: VerifyCached(cached) = %v, want the fence's error", err)
	}
	if v.Fenced() != fence {
		t.Errorf("Fenced() = %v", v.Fenced())
	}
	lookups := s.lookups.Load()
	v.Unfence()
	if v.Fenced() != nil {
		t.Errorf("Fenced() after Unfence = %v", v.Fenced())
	}
	if _, err := v.Verify(context.Background(), h); err != nil {
		t.Errorf("after Unfence: %v", err)
	}
	if s.lookups.Load() != lookups+1 {
		t.Errorf("after Unfence the key was not read again: the cache was kept")
	}
}
