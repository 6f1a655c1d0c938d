package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/keygate/keygate/keystore"
)

func testCreateAndListIntegrations(t *testing.T, s keystore.Store) {
	list, err := s.ListIntegrations(ctx(t))
	if err != nil {
		t.Fatalf("listing integrations of an empty store: %v", err)
	}
	if list == nil || len(list) != 0 {
		t.Fatalf("empty store lists %#v, want an empty non-nil slice", list)
	}
	mustCreateIntegration(t, s, "weather", "https://weather.example.com/api/v2/")
	mustCreateIntegration(t, s, "billing", "http://127.0.0.1:8081")

	list, err = s.ListIntegrations(ctx(t))
	if err != nil {
		t.Fatalf("listing integrations: %v", err)
	}
	want := []keystore.Integration{
		{ID: "billing", BaseURL: "http://127.0.0.1:8081"},
		{ID: "weather", BaseURL: "https://weather.example.com/api/v2"}, // normalized
	}
	if len(list) != len(want) {
		t.Fatalf("listed %d integrations, want %d: %+v", len(list), len(want), list)
	}
	for i, w := range want {
		if list[i].ID != w.ID || list[i].BaseURL != w.BaseURL || !sameTime(list[i].CreatedAt, baseTime) {
			t.Errorf("integration %d = %+v, want id %s, base URL %s, created at %v", i, list[i], w.ID, w.BaseURL, baseTime)
		}
	}
}

func testDuplicateIntegration(t *testing.T, s keystore.Store) {
	mustCreateIntegration(t, s, "weather", "https://weather.example.com")
	err := s.CreateIntegration(ctx(t), keystore.Integration{ID: "weather", BaseURL: "https://other.example.com"})
	if !errors.Is(err, keystore.ErrIntegrationExists) {
		t.Fatalf("creating a duplicate integration: got %v, want ErrIntegrationExists", err)
	}
	list, err := s.ListIntegrations(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].BaseURL != "https://weather.example.com" {
		t.Fatalf("after a rejected duplicate, integrations are %+v", list)
	}
}

func testInvalidIntegrationID(t *testing.T, s keystore.Store) {
	for _, id := range []string{"", "Weather", "-weather", "we ather", "wéather", "weather/v2", strings.Repeat("a", 64)} {
		if err := s.CreateIntegration(ctx(t), keystore.Integration{ID: id, BaseURL: "https://example.com"}); err == nil {
			t.Errorf("integration id %q was accepted", id)
		}
	}
	assertNoIntegrations(t, s)
}

func testInvalidBaseURL(t *testing.T, s keystore.Store) {
	for _, u := range []string{"", "example.com", "ftp://example.com", "https://", "https://user:pw@example.com",
		"https://example.com/?q=1", "https://example.com/#frag", "http://[::1"} {
		if err := s.CreateIntegration(ctx(t), keystore.Integration{ID: "weather", BaseURL: u}); err == nil {
			t.Errorf("base URL %q was accepted", u)
		}
	}
	assertNoIntegrations(t, s)
}

func assertNoIntegrations(t *testing.T, s keystore.Store) {
	t.Helper()
	list, err := s.ListIntegrations(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("rejected integrations were stored: %+v", list)
	}
}
