package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
)

func testKeyForUnknownIntegration(t *testing.T, s keystore.Store) {
	err := s.CreateKey(ctx(t), NewKey(t, "nowhere", "ci", baseTime))
	if !errors.Is(err, keystore.ErrUnknownIntegration) {
		t.Fatalf("creating a key for an unknown integration: got %v, want ErrUnknownIntegration", err)
	}
	if keys := mustListKeys(t, s, keystore.KeyFilter{}); len(keys) != 0 {
		t.Fatalf("rejected key was stored: %+v", keys)
	}
}

func testDuplicateHash(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	first := NewKey(t, "weather", "first", baseTime)
	mustCreateKey(t, s, first)
	second := NewKey(t, "weather", "second", baseTime)
	second.Hash = first.Hash
	if err := s.CreateKey(ctx(t), second); err == nil {
		t.Fatal("a second key with the same hash was accepted")
	}
	if ids := keyIDs(mustListKeys(t, s, keystore.KeyFilter{})); !slices.Equal(ids, []string{first.ID}) {
		t.Fatalf("keys after a rejected duplicate hash: %v, want only %s", ids, first.ID)
	}
}

func testDuplicateKeyID(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	first := NewKey(t, "weather", "first", baseTime)
	mustCreateKey(t, s, first)
	second := NewKey(t, "weather", "second", baseTime)
	second.ID = first.ID
	if err := s.CreateKey(ctx(t), second); err == nil {
		t.Fatal("a second key with the same id was accepted")
	}
	if keys := mustListKeys(t, s, keystore.KeyFilter{}); len(keys) != 1 || keys[0].Name != "first" {
		t.Fatalf("keys after a rejected duplicate id: %+v", keys)
	}
}

func testInvalidKey(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	cases := map[string]func(k *keystore.NewKey){
		"bad id":       func(k *keystore.NewKey) { k.ID = "not-a-key-id" },
		"empty name":   func(k *keystore.NewKey) { k.Name = "" },
		"control char": func(k *keystore.NewKey) { k.Name = "ci\nkey" },
		"RLO override": func(k *keystore.NewKey) { k.Name = "ci\u202ekey" },
		"zero width":   func(k *keystore.NewKey) { k.Name = "c\u200bi" },
		"BOM":          func(k *keystore.NewKey) { k.Name = "\ufeffci" },
		"huge name":    func(k *keystore.NewKey) { k.Name = strings.Repeat("n", 10000) },
		"no hash":      func(k *keystore.NewKey) { k.Hash = keystore.Hash{} },
	}
	for name, spoil := range cases {
		k := NewKey(t, "weather", "ci", baseTime)
		spoil(&k)
		if err := s.CreateKey(ctx(t), k); err == nil {
			t.Errorf("%s: key accepted", name)
		}
	}
	if keys := mustListKeys(t, s, keystore.KeyFilter{}); len(keys) != 0 {
		t.Fatalf("rejected keys were stored: %+v", keys)
	}
}

func testListKeysFilter(t *testing.T, s keystore.Store) {
	if keys := mustListKeys(t, s, keystore.KeyFilter{}); keys == nil || len(keys) != 0 {
		t.Fatalf("empty store lists keys %#v, want an empty non-nil slice", keys)
	}
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	mustCreateIntegration(t, s, "billing", "https://billing.example.com")
	// Created out of order, two at the same instant: the list is by
	// created_at, then id.
	w2 := NewKey(t, "weather", "w2", baseTime.Add(2*time.Second))
	b1 := NewKey(t, "billing", "b1", baseTime.Add(time.Second))
	w1a := NewKey(t, "weather", "w1a", baseTime)
	w1b := NewKey(t, "weather", "w1b", baseTime)
	for _, k := range []keystore.NewKey{w2, b1, w1a, w1b} {
		mustCreateKey(t, s, k)
	}
	first, second := w1a.ID, w1b.ID
	if second < first {
		first, second = second, first
	}
	for _, tc := range []struct {
		filter keystore.KeyFilter
		want   []string
	}{
		{keystore.KeyFilter{}, []string{first, second, b1.ID, w2.ID}},
		{keystore.KeyFilter{IntegrationID: "weather"}, []string{first, second, w2.ID}},
		{keystore.KeyFilter{IntegrationID: "billing"}, []string{b1.ID}},
		{keystore.KeyFilter{IntegrationID: "nowhere"}, []string{}},
	} {
		if got := keyIDs(mustListKeys(t, s, tc.filter)); !slices.Equal(got, tc.want) {
			t.Errorf("ListKeys(%+v) = %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func testTimestampsRoundTrip(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	expires := baseTime.Add(90*24*time.Hour + 123456789)
	used := baseTime.Add(time.Hour + 987654321)
	k := NewKey(t, "weather", "ci", baseTime)
	k.ExpiresAt, k.LastUsedAt = &expires, &used
	mustCreateKey(t, s, k)
	plain := NewKey(t, "weather", "plain", baseTime.Add(time.Second))
	mustCreateKey(t, s, plain)

	keys := mustListKeys(t, s, keystore.KeyFilter{})
	if len(keys) != 2 {
		t.Fatalf("listed %d keys, want 2", len(keys))
	}
	got := keys[0]
	if got.ID != k.ID || got.Name != "ci" || got.IntegrationID != "weather" {
		t.Errorf("key = %+v, want id %s, name ci, integration weather", got, k.ID)
	}
	for _, c := range []struct {
		name      string
		got, want *time.Time
	}{
		{"created_at", &got.CreatedAt, &k.CreatedAt},
		{"expires_at", got.ExpiresAt, &expires},
		{"last_used_at", got.LastUsedAt, &used},
	} {
		if c.got == nil || !sameTime(*c.got, *c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, *c.want)
		}
	}
	if got.RevokedAt != nil {
		t.Errorf("revoked_at = %v, want nil", got.RevokedAt)
	}
	if p := keys[1]; p.ExpiresAt != nil || p.RevokedAt != nil || p.LastUsedAt != nil {
		t.Errorf("a key created without them has expires_at %v, revoked_at %v, last_used_at %v; want nil", p.ExpiresAt, p.RevokedAt, p.LastUsedAt)
	}
}

func testConcurrentCreate(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		k := NewKey(t, "weather", fmt.Sprintf("key-%d", i), baseTime.Add(time.Duration(i)*time.Second))
		wg.Go(func() { errs <- s.CreateKey(ctx(t), k) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent CreateKey: %v", err)
		}
	}
	if keys := mustListKeys(t, s, keystore.KeyFilter{}); len(keys) != n {
		t.Fatalf("listed %d keys after %d concurrent creations", len(keys), n)
	}
}
