package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
)

const month = 30 * 24 * time.Hour

// testExchangeOnlyAndRotation: exchange_only and rotate_every round-trip
// through every read, reach the credential, and survive a rotation.
func testExchangeOnlyAndRotation(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	k := NewKey(t, "weather", "ci", baseTime)
	k.ExchangeOnly, k.RotateEvery = true, month
	mustCreateKey(t, s, k)
	plain := NewKey(t, "weather", "plain", baseTime)
	mustCreateKey(t, s, plain)

	got, err := s.GetKey(ctx(t), k.ID)
	if err != nil || !got.ExchangeOnly || got.RotateEvery != month {
		t.Fatalf("GetKey = %+v, %v; want exchange-only, every 30 days", got, err)
	}
	listed := map[string]keystore.Key{}
	for _, l := range mustListKeys(t, s, keystore.KeyFilter{}) {
		listed[l.ID] = l
	}
	if l, p := listed[k.ID], listed[plain.ID]; len(listed) != 2 || !l.ExchangeOnly || l.RotateEvery != month || p.ExchangeOnly || p.RotateEvery != 0 {
		t.Fatalf("ListKeys = %+v", listed)
	}
	for name, lookup := range map[string]func() (keystore.Credential, error){
		"by hash": func() (keystore.Credential, error) { return s.LookupCredential(ctx(t), k.Hash) },
		"by id":   func() (keystore.Credential, error) { return s.LookupCredentialByID(ctx(t), k.ID) },
	} {
		if c, err := lookup(); err != nil || !c.ExchangeOnly || c.KeyID != k.ID || c.IntegrationID != "weather" {
			t.Fatalf("credential %s = %+v, %v; want exchange-only key %s", name, c, err, k.ID)
		}
	}
	if c, err := s.LookupCredential(ctx(t), plain.Hash); err != nil || c.ExchangeOnly {
		t.Fatalf("plain key's credential = %+v, %v", c, err)
	}

	next := NewKey(t, "x", "x", baseTime.Add(time.Hour))
	if _, err := s.RotateKey(ctx(t), k.ID, next, baseTime.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetKey(ctx(t), next.ID); err != nil || !got.ExchangeOnly || got.RotateEvery != month {
		t.Fatalf("rotated key = %+v, %v; want exchange-only, every 30 days like the old", got, err)
	}
	bad := NewKey(t, "weather", "bad", baseTime)
	bad.RotateEvery = time.Second
	if err := s.CreateKey(ctx(t), bad); err == nil {
		t.Fatal("stored a key rolled every second")
	}
}

// testLookupByID: unknown ids are not found, deleted keys read revoked.
func testLookupByID(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	k := NewKey(t, "weather", "ci", baseTime)
	mustCreateKey(t, s, k)
	if _, err := s.LookupCredentialByID(ctx(t), "nosuchkey"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("unknown id: err = %v, want ErrNotFound", err)
	}
	c, err := s.LookupCredentialByID(ctx(t), k.ID)
	if err != nil || c.KeyName != "ci" || c.BaseURL != "https://weather.example.com" || !c.RevokedAt.IsZero() {
		t.Fatalf("LookupCredentialByID = %+v, %v", c, err)
	}
	at := baseTime.Add(time.Hour)
	if _, err := s.DeleteKey(ctx(t), k.ID, at); err != nil {
		t.Fatal(err)
	}
	if c, err := s.LookupCredentialByID(ctx(t), k.ID); err != nil || !sameTime(c.RevokedAt, at) {
		t.Fatalf("deleted key by id = %+v, %v; want revoked at %v", c, err, at)
	}
}

func testIntegrationRotation(t *testing.T, s keystore.Store) {
	r := keystore.Rotation{Every: month, Grace: time.Hour}
	if err := s.CreateIntegration(ctx(t), keystore.Integration{ID: "weather", BaseURL: "https://weather.example.com", Rotation: r}); err != nil {
		t.Fatal(err)
	}
	mustCreateIntegration(t, s, "maps", "https://maps.example.com")
	if in, err := s.GetIntegration(ctx(t), "weather"); err != nil || in.Rotation != r || in.BaseURL != "https://weather.example.com" {
		t.Fatalf("GetIntegration = %+v, %v; want rotation %+v", in, err, r)
	}
	list, err := s.ListIntegrations(ctx(t))
	if err != nil || len(list) != 2 || list[0].Rotation != (keystore.Rotation{}) || list[1].Rotation != r {
		t.Fatalf("ListIntegrations = %+v, %v", list, err)
	}
	r2 := keystore.Rotation{Every: 7 * 24 * time.Hour}
	if in, err := s.SetIntegrationRotation(ctx(t), "maps", r2); err != nil || in.Rotation != r2 || in.ID != "maps" {
		t.Fatalf("SetIntegrationRotation = %+v, %v", in, err)
	}
	if in, err := s.GetIntegration(ctx(t), "maps"); err != nil || in.Rotation != r2 {
		t.Fatalf("after SetIntegrationRotation: %+v, %v", in, err)
	}
	if _, err := s.SetIntegrationRotation(ctx(t), "nosuch", r2); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("unknown integration: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetIntegration(ctx(t), "nosuch"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("GetIntegration of an unknown id: err = %v", err)
	}
	if _, err := s.SetIntegrationRotation(ctx(t), "maps", keystore.Rotation{Every: -time.Hour}); err == nil {
		t.Fatal("stored a negative rotation period")
	}
}
