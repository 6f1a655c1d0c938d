package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
)

func testGetKey(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	k := NewKey(t, "weather", "ci", baseTime)
	mustCreateKey(t, s, k)
	got, err := s.GetKey(ctx(t), k.ID)
	if err != nil || got.ID != k.ID || got.Name != "ci" || got.IntegrationID != "weather" || !sameTime(got.CreatedAt, baseTime) {
		t.Fatalf("GetKey = %+v, %v; want key %s", got, err, k.ID)
	}
	unknown := NewKey(t, "weather", "x", baseTime)
	if _, err := s.GetKey(ctx(t), unknown.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("GetKey of an unknown id: %v, want ErrNotFound", err)
	}
}

func testRotateGrace(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	old := NewKey(t, "weather", "ci", baseTime)
	mustCreateKey(t, s, old)
	next := NewKey(t, "ignored", "ignored", baseTime.Add(time.Hour))
	end := baseTime.Add(2 * time.Hour)
	updated, err := s.RotateKey(ctx(t), old.ID, next, end)
	if err != nil {
		t.Fatalf("rotating: %v", err)
	}
	if updated.ID != old.ID || updated.ExpiresAt == nil || !sameTime(*updated.ExpiresAt, end) {
		t.Fatalf("old key after rotation = %+v, want expiry %v", updated, end)
	}
	got, err := s.GetKey(ctx(t), next.ID)
	if err != nil {
		t.Fatalf("reading the new key: %v", err)
	}
	if got.Name != "ci" || got.IntegrationID != "weather" || got.ExpiresAt != nil || !sameTime(got.CreatedAt, next.CreatedAt) {
		t.Fatalf("new key = %+v, want name ci, integration weather, no expiry", got)
	}
	cred, err := s.LookupCredential(ctx(t), next.Hash)
	if err != nil || cred.KeyID != next.ID {
		t.Fatalf("looking up the new key: %+v, %v", cred, err)
	}
	cred, err = s.LookupCredential(ctx(t), old.Hash)
	if err != nil || !sameTime(cred.ExpiresAt, end) {
		t.Fatalf("old key's credential = %+v, %v; want expiry %v", cred, err, end)
	}
}

func testRotateKeepsEarlierExpiry(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	old := NewKey(t, "weather", "ci", baseTime)
	soon := baseTime.Add(time.Minute)
	old.ExpiresAt = &soon
	mustCreateKey(t, s, old)
	updated, err := s.RotateKey(ctx(t), old.ID, NewKey(t, "", "", baseTime), baseTime.Add(time.Hour))
	if err != nil {
		t.Fatalf("rotating: %v", err)
	}
	if updated.ExpiresAt == nil || !sameTime(*updated.ExpiresAt, soon) {
		t.Fatalf("old key expires at %v after rotation with a later grace end, want its own %v", updated.ExpiresAt, soon)
	}
}

func testRotateRefused(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	revoked := NewKey(t, "weather", "revoked", baseTime)
	mustCreateKey(t, s, revoked)
	if _, err := s.RevokeKey(ctx(t), revoked.ID, baseTime); err != nil {
		t.Fatal(err)
	}
	deleted := NewKey(t, "weather", "deleted", baseTime)
	mustCreateKey(t, s, deleted)
	if _, err := s.DeleteKey(ctx(t), deleted.ID, baseTime); err != nil {
		t.Fatal(err)
	}
	unknown := NewKey(t, "weather", "unknown", baseTime)
	for _, tc := range []struct {
		id   string
		want error
	}{{revoked.ID, keystore.ErrAlreadyRevoked}, {deleted.ID, keystore.ErrNotFound}, {unknown.ID, keystore.ErrNotFound}} {
		next := NewKey(t, "", "", baseTime)
		if _, err := s.RotateKey(ctx(t), tc.id, next, baseTime); !errors.Is(err, tc.want) {
			t.Errorf("rotating %s: %v, want %v", tc.id, err, tc.want)
		}
		if _, err := s.LookupCredential(ctx(t), next.Hash); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("a refused rotation stored its new key: %v", err)
		}
	}
}

func testDeleteKey(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	k := NewKey(t, "weather", "ci", baseTime)
	mustCreateKey(t, s, k)
	keep := NewKey(t, "weather", "keep", baseTime)
	mustCreateKey(t, s, keep)
	at := baseTime.Add(time.Hour)
	got, err := s.DeleteKey(ctx(t), k.ID, at)
	if err != nil || got.ID != k.ID {
		t.Fatalf("DeleteKey = %+v, %v", got, err)
	}
	if ids := keyIDs(mustListKeys(t, s, keystore.KeyFilter{})); !slices.Equal(ids, []string{keep.ID}) {
		t.Errorf("keys after deletion: %v, want only %s", ids, keep.ID)
	}
	if _, err := s.GetKey(ctx(t), k.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("GetKey of a deleted key: %v, want ErrNotFound", err)
	}
	cred, err := s.LookupCredential(ctx(t), k.Hash)
	if err != nil || !sameTime(cred.RevokedAt, at) {
		t.Errorf("a deleted key's credential = %+v, %v; want it revoked at %v", cred, err, at)
	}
	if _, err := s.DeleteKey(ctx(t), k.ID, at); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("deleting twice: %v, want ErrNotFound", err)
	}
	if _, err := s.RevokeKey(ctx(t), k.ID, at); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("revoking a deleted key: %v, want ErrNotFound", err)
	}
}

func testTouchKeys(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	a, b := NewKey(t, "weather", "a", baseTime), NewKey(t, "weather", "b", baseTime)
	mustCreateKey(t, s, a)
	mustCreateKey(t, s, b)
	unknown := NewKey(t, "weather", "unknown", baseTime)
	t1, t2 := baseTime.Add(time.Minute), baseTime.Add(2*time.Minute)
	if err := s.TouchKeys(ctx(t), map[string]keystore.Use{a.ID: {Last: t2}, b.ID: {Last: t1}, unknown.ID: {Last: t1, Requests: 3}}); err != nil {
		t.Fatalf("TouchKeys: %v", err)
	}
	// Older uses, flushed late by another gateway, never move it back.
	if err := s.TouchKeys(ctx(t), map[string]keystore.Use{a.ID: {Last: t1}, b.ID: {Last: t2}}); err != nil {
		t.Fatalf("TouchKeys: %v", err)
	}
	if err := s.TouchKeys(ctx(t), nil); err != nil {
		t.Fatalf("TouchKeys with nothing: %v", err)
	}
	for id, want := range map[string]time.Time{a.ID: t2, b.ID: t2} {
		k, err := s.GetKey(ctx(t), id)
		if err != nil || k.LastUsedAt == nil || !sameTime(*k.LastUsedAt, want) {
			t.Errorf("key %s last used %v (%v), want %v", id, k.LastUsedAt, err, want)
		}
	}
}

func testTouchMany(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	uses := map[string]keystore.Use{}
	for i := range 1200 {
		k := NewKey(t, "weather", fmt.Sprintf("k%d", i), baseTime)
		mustCreateKey(t, s, k)
		uses[k.ID] = keystore.Use{Last: baseTime.Add(time.Duration(i) * time.Second), Requests: int64(i + 1)}
	}
	if err := s.TouchKeys(ctx(t), uses); err != nil {
		t.Fatalf("TouchKeys of %d keys: %v", len(uses), err)
	}
	for _, k := range mustListKeys(t, s, keystore.KeyFilter{}) {
		if k.LastUsedAt == nil || !sameTime(*k.LastUsedAt, uses[k.ID].Last) {
			t.Fatalf("key %s last used %v, want %v", k.ID, k.LastUsedAt, uses[k.ID].Last)
		}
	}
}

func testSetIntegrationURL(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	k := NewKey(t, "weather", "ci", baseTime)
	mustCreateKey(t, s, k)
	r := keystore.Rotation{Every: 30 * 24 * time.Hour, Grace: time.Hour}
	if _, err := s.SetIntegrationRotation(ctx(t), "weather", r); err != nil {
		t.Fatal(err)
	}
	// The answer is the whole record, its rotation too.
	in, err := s.SetIntegrationURL(ctx(t), "weather", "http://10.0.0.7:8080/v2/")
	if err != nil || in.BaseURL != "http://10.0.0.7:8080/v2" || !sameTime(in.CreatedAt, baseTime) || in.Rotation != r {
		t.Fatalf("SetIntegrationURL = %+v, %v", in, err)
	}
	if cred, err := s.LookupCredential(ctx(t), k.Hash); err != nil || cred.BaseURL != in.BaseURL {
		t.Fatalf("credential after the change: %+v, %v", cred, err)
	}
	if _, err := s.SetIntegrationURL(ctx(t), "nowhere", "https://x.example.com"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("changing an unknown integration: %v, want ErrNotFound", err)
	}
	if _, err := s.SetIntegrationURL(ctx(t), "weather", "ftp://x"); err == nil {
		t.Errorf("an ftp base URL was accepted")
	}
}

func testRemoveIntegration(t *testing.T, s keystore.Store) {
	now := baseTime.Add(time.Hour)
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	mustCreateIntegration(t, s, "billing", "https://billing.example.com")
	active := NewKey(t, "weather", "active", baseTime)
	mustCreateKey(t, s, active)
	other := NewKey(t, "billing", "other", baseTime)
	mustCreateKey(t, s, other)
	if _, err := s.RemoveIntegration(ctx(t), "weather", false, now); !errors.Is(err, keystore.ErrIntegrationInUse) {
		t.Fatalf("removing an integration with an active key: %v, want ErrIntegrationInUse", err)
	}
	// Rotating ends the old key but makes an active new one.
	if _, err := s.RotateKey(ctx(t), active.ID, NewKey(t, "", "", baseTime), baseTime); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RemoveIntegration(ctx(t), "weather", false, now); !errors.Is(err, keystore.ErrIntegrationInUse) {
		t.Fatalf("the rotated key is active: %v, want ErrIntegrationInUse", err)
	}
	n, err := s.RemoveIntegration(ctx(t), "weather", true, now)
	if err != nil || n != 2 {
		t.Fatalf("forced removal = %d, %v; want 2 keys removed", n, err)
	}
	if ids := keyIDs(mustListKeys(t, s, keystore.KeyFilter{})); !slices.Equal(ids, []string{other.ID}) {
		t.Errorf("keys after removal: %v, want only %s", ids, other.ID)
	}
	if _, err := s.LookupCredential(ctx(t), active.Hash); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("a removed integration's key still looks up: %v", err)
	}
	ins, _ := s.ListIntegrations(ctx(t))
	if len(ins) != 1 || ins[0].ID != "billing" {
		t.Errorf("integrations after removal: %+v", ins)
	}
	if _, err := s.RemoveIntegration(ctx(t), "weather", true, now); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("removing it again: %v, want ErrNotFound", err)
	}
	// Revoked keys do not hold an integration back.
	if _, err := s.RevokeKey(ctx(t), other.ID, baseTime); err != nil {
		t.Fatal(err)
	}
	if n, err := s.RemoveIntegration(ctx(t), "billing", false, now); err != nil || n != 1 {
		t.Errorf("removing an integration with only a revoked key = %d, %v", n, err)
	}
}

// TouchWritesNoFeed checks that TouchKeys records uses without a change
// feed row (and so, in PostgreSQL, without a NOTIFY). changes returns how
// many rows the store's feed holds.
func TouchWritesNoFeed(t *testing.T, s keystore.Store, changes func() int64) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	k := NewKey(t, "weather", "ci", baseTime)
	mustCreateKey(t, s, k)
	before := changes()
	if err := s.TouchKeys(ctx(t), map[string]keystore.Use{k.ID: {Last: baseTime.Add(time.Minute), Requests: 1}}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetKey(ctx(t), k.ID); err != nil || got.LastUsedAt == nil {
		t.Fatalf("the use was not recorded: %+v, %v", got, err)
	}
	if after := changes(); after != before {
		t.Fatalf("TouchKeys wrote %d change feed rows, want none", after-before)
	}
	if _, err := s.DeleteKey(ctx(t), k.ID, baseTime.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if changes() == before {
		t.Fatal("DeleteKey wrote no change feed row: gateways would keep the deleted key cached")
	}
}
