package sqlite

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
)

func TestParseTime(t *testing.T) {
	want := time.Date(2026, 3, 14, 13, 9, 26, 535897000, time.UTC)
	for _, s := range []string{
		"2026-03-14 13:09:26.535897",       // keygate's own
		"2026-03-14T13:09:26.535897Z",      // strftime('%Y-%m-%dT%H:%M:%fZ') with more digits
		"2026-03-14T15:09:26.535897+02:00", // with an offset
		"2026-03-14 13:09:26.535897Z",
	} {
		got, err := parseTime(s)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseTime(%q) = %v, %v; want %v in UTC", s, got, err, want)
		}
	}
	if got, err := parseTime("2026-03-14 13:09:26"); err != nil || !got.Equal(want.Truncate(time.Second)) {
		t.Errorf("datetime('now') form: %v, %v", got, err)
	}
	if got := formatTime(want.In(time.FixedZone("UTC+2", 7200))); got != "2026-03-14 13:09:26.535897" {
		t.Errorf("formatTime = %q", got)
	}
	if _, err := parseTime("soon"); err == nil {
		t.Error("parseTime(soon) succeeded")
	}
}

// TestUnreadableTimesFailClosed: a revocation or expiry that cannot be
// read still refuses the key.
func TestUnreadableTimesFailClosed(t *testing.T) {
	for _, s := range []string{"2026-03-14 13:09:26 +02:00", "0001-01-01 00:00:00"} {
		if d := deadline(sql.NullString{String: s, Valid: true}); d.IsZero() || d.After(time.Now()) {
			t.Errorf("deadline(%q) = %v, want a past time", s, d)
		}
	}
	if d := deadline(sql.NullString{}); !d.IsZero() {
		t.Errorf("deadline(NULL) = %v, want zero (never)", d)
	}
}

// TestSchemaRefusesBadTimes: an operator writing something that is not a
// time gets an error at once, not a key that behaves oddly later.
func TestSchemaRefusesBadTimes(t *testing.T) {
	f := newFixture(t)
	for _, v := range []any{"soon", "now", 1, "2026-13-45 99:99:99", "2026-03-14"} {
		_, err := f.cli.writer.ExecContext(t.Context(), `UPDATE keygate_keys SET revoked_at = ?`, v)
		if err == nil || !strings.Contains(err.Error(), "CHECK constraint failed") {
			t.Errorf("revoked_at = %v: error %v, want a CHECK constraint failure", v, err)
		}
	}
	c, err := f.cli.LookupCredential(t.Context(), f.key.Hash)
	if err != nil || !c.RevokedAt.IsZero() {
		t.Fatalf("after refused updates, revoked at %v (%v), want never", c.RevokedAt, err)
	}
	exec(t, f.cli, `UPDATE keygate_keys SET revoked_at = datetime('now')`)
	keys, err := f.cli.ListKeys(t.Context(), keystore.KeyFilter{})
	if err != nil || len(keys) != 1 || keys[0].RevokedAt == nil || time.Since(*keys[0].RevokedAt) > time.Minute {
		t.Fatalf("after revoking with datetime('now'): %+v (%v), want revoked about now", keys, err)
	}
}
