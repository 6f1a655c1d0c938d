package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/manage"
)

func TestEmptyListsAreEmptyJSONArrays(t *testing.T) {
	for name, v := range map[string]any{
		"keys":         manage.KeyViews(nil, time.Time{}, 0),
		"integrations": manage.IntegrationsJSON(nil),
	} {
		var b bytes.Buffer
		if err := writeJSON(&b, v); err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(b.String()); got != "[]" {
			t.Errorf("empty %s list = %s, want []", name, got)
		}
	}
}

func TestJSONTimesAreUTC(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	at := time.Date(2030, 1, 2, 4, 4, 5, 0, paris)
	keys := manage.KeyViews([]keystore.Key{{ID: "kid_x", CreatedAt: at, ExpiresAt: &at, RevokedAt: &at, LastUsedAt: &at}}, at, time.Hour)
	var b bytes.Buffer
	if err := writeJSON(&b, keys); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(b.String(), `"2030-01-02T03:04:05Z"`); got != 4 || !strings.Contains(b.String(), `"rotate_by": "2030-01-02T04:04:05Z"`) {
		t.Errorf("want 4 UTC timestamps and rotate_by in UTC, got %d in %s", got, b.String())
	}
}

func TestCreatedKeyShownOnceWithWarning(t *testing.T) {
	secret, hash, err := keystore.GenerateKey(nil, keystore.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	id, err := keystore.NewKeyID(nil)
	if err != nil {
		t.Fatal(err)
	}
	k := manage.CreatedKey{Secret: secret, NewKey: keystore.NewKey{Hash: hash,
		Key: keystore.Key{ID: id, Name: "ci", IntegrationID: "billing", CreatedAt: time.Now()}}}
	var b bytes.Buffer
	if err := writeCreatedKey(&b, k); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if n := strings.Count(out, k.Secret); n != 1 {
		t.Errorf("the key appears %d times, want once", n)
	}
	for _, s := range []string{"will not be shown again", k.ID, "billing", "expires:", "never"} {
		if !strings.Contains(out, s) {
			t.Errorf("created key block lacks %q", s)
		}
	}
	if k.ExpiresAt != nil {
		t.Error("a key without --expires-in has an expiry")
	}
}

func TestTablesAlignAndQuoteOddNames(t *testing.T) {
	now := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	past := now.Add(-time.Hour)
	keys := []keystore.Key{
		{ID: "kid_a", Name: "short", IntegrationID: "billing", CreatedAt: past},
		{ID: "kid_bbbbbbbb", Name: "bad\nname", IntegrationID: "crm", CreatedAt: past, ExpiresAt: &past, LastUsedAt: &past},
	}
	var b bytes.Buffer
	if err := writeKeysTable(&b, keys, now, 0); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a header and 2 rows, got %d lines:\n%s", len(lines), b.String())
	}
	col := strings.Index(lines[0], "STATUS")
	if strings.Index(lines[1], "active") != col || strings.Index(lines[2], "expired") != col {
		t.Errorf("STATUS column not aligned:\n%s", b.String())
	}
	if !strings.Contains(lines[2], `"bad\nname"`) {
		t.Errorf("a name with a newline is not quoted: %q", lines[2])
	}

	b.Reset()
	if err := writeIntegrationsTable(&b, []keystore.Integration{{ID: "billing", BaseURL: "https://b.example/v1", CreatedAt: past}}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"ID", "BASE URL", "CREATED", "billing", "https://b.example/v1", "2030-01-01T23:00:00Z"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("integrations table lacks %q:\n%s", s, b.String())
		}
	}
}

// TestExchangeOnlyAndRotationShown: an exchange-only key is not shown as
// one to send as Bearer, and its rotation period and exchange-only state
// have lines of their own in create's and show's output.
func TestExchangeOnlyAndRotationShown(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	due := now.Add(7 * 24 * time.Hour)
	key := keystore.Key{ID: "kid_x", Name: "cron", IntegrationID: "billing", CreatedAt: now, ExchangeOnly: true, RotateEvery: 7 * 24 * time.Hour, RotateDueAt: &due}
	var created, shown bytes.Buffer
	if err := writeCreatedKey(&created, manage.CreatedKey{NewKey: keystore.NewKey{Key: key}, Secret: "kg_secret"}); err != nil {
		t.Fatal(err)
	}
	if out := created.String(); strings.Contains(out, "Authorization: Bearer") || !strings.Contains(out, "exchange-only") || !strings.Contains(out, "client_id kid_x") || !strings.Contains(out, "rotate every:  7d") {
		t.Errorf("created exchange-only key:\n%s\nwant no Bearer line, the exchange and the rotation period", strings.ReplaceAll(out, "kg_secret", "<key>"))
	}
	if err := writeKeyDetails(&shown, key, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rotate due:     2030-01-09T03:04:05Z\n", "rotate every:   7d\n", "exchange only:  yes"} {
		if !strings.Contains(shown.String(), want) {
			t.Errorf("keys show:\n%s\nwant %q", shown.String(), want)
		}
	}
}
