package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
)

func testLookupJoined(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com/api/")
	k := NewKey(t, "weather", "ci", baseTime)
	mustCreateKey(t, s, k)
	mustCreateKey(t, s, NewKey(t, "weather", "other", baseTime)) // must not be found instead

	got, err := s.LookupCredential(ctx(t), k.Hash)
	if err != nil {
		t.Fatalf("looking up a key: %v", err)
	}
	if !sameTime(got.CreatedAt, baseTime) {
		t.Errorf("credential created at %v, want %v", got.CreatedAt, baseTime)
	}
	got.CreatedAt = time.Time{}
	want := keystore.Credential{KeyID: k.ID, KeyName: "ci", IntegrationID: "weather", BaseURL: "https://weather.example.com/api"}
	if got != want {
		t.Fatalf("credential = %+v, want %+v", got, want)
	}
}

func testLookupExpiry(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	expires := baseTime.Add(time.Hour)
	k := NewKey(t, "weather", "ci", baseTime)
	k.ExpiresAt = &expires
	mustCreateKey(t, s, k)
	got, err := s.LookupCredential(ctx(t), k.Hash)
	if err != nil {
		t.Fatalf("looking up a key: %v", err)
	}
	if !sameTime(got.ExpiresAt, expires) || !got.RevokedAt.IsZero() {
		t.Fatalf("credential expires at %v, revoked at %v; want %v and zero", got.ExpiresAt, got.RevokedAt, expires)
	}
}

func testLookupUnknown(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	mustCreateKey(t, s, NewKey(t, "weather", "ci", baseTime))
	_, hash, err := keystore.GenerateKey(nil, keystore.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.LookupCredential(ctx(t), hash); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("looking up an unknown hash: got %v, want ErrNotFound", err)
	}
}

func testRevokeThenLookup(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	k := NewKey(t, "weather", "ci", baseTime)
	mustCreateKey(t, s, k)
	at := baseTime.Add(time.Minute)
	rec, err := s.RevokeKey(ctx(t), k.ID, at)
	if err != nil {
		t.Fatalf("revoking: %v", err)
	}
	if rec.ID != k.ID || rec.Name != "ci" || rec.IntegrationID != "weather" || rec.RevokedAt == nil || !sameTime(*rec.RevokedAt, at) {
		t.Fatalf("RevokeKey returned %+v, want key %s revoked at %v", rec, k.ID, at)
	}
	got, err := s.LookupCredential(ctx(t), k.Hash)
	if err != nil {
		t.Fatalf("a revoked key must still be found: %v", err)
	}
	if !sameTime(got.RevokedAt, at) {
		t.Fatalf("looked-up credential revoked at %v, want %v", got.RevokedAt, at)
	}
}

func testRevokeTwice(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	k := NewKey(t, "weather", "ci", baseTime)
	mustCreateKey(t, s, k)
	first := baseTime.Add(time.Minute)
	if _, err := s.RevokeKey(ctx(t), k.ID, first); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeKey(ctx(t), k.ID, first.Add(time.Hour)); !errors.Is(err, keystore.ErrAlreadyRevoked) {
		t.Fatalf("revoking twice: got %v, want ErrAlreadyRevoked", err)
	}
	got, err := s.LookupCredential(ctx(t), k.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if !sameTime(got.RevokedAt, first) {
		t.Fatalf("after a second revocation, revoked at %v, want the first time %v", got.RevokedAt, first)
	}
}

func testRevokeUnknown(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	mustCreateKey(t, s, NewKey(t, "weather", "ci", baseTime))
	id, err := keystore.NewKeyID(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeKey(ctx(t), id, baseTime); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("revoking an unknown key: got %v, want ErrNotFound", err)
	}
}
