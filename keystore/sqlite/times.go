package sqlite

import (
	"database/sql"
	"fmt"
	"time"
)

// timeLayout is how the store writes times: UTC, to the microsecond as
// PostgreSQL keeps them, fixed width so that text order is time order,
// and in the form SQLite's own date functions write and read.
const timeLayout = "2006-01-02 15:04:05.000000"

// readLayouts are the forms a time may take in the database: the store's
// own, and what an operator may write by hand, such as datetime('now') or
// strftime('%Y-%m-%dT%H:%M:%fZ'), which the schema's checks let through.
// Fractional seconds are optional in each.
var readLayouts = []string{
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05Z07:00",
}

// formatTime returns t as the store writes it.
func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// nullTime is t as a query argument: NULL when nil.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

// parseTime reads a time the store or an operator wrote, as UTC.
func parseTime(s string) (time.Time, error) {
	for _, layout := range readLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time keygate can read: write it as YYYY-MM-DD HH:MM:SS[.SSSSSS] in UTC", s)
}

// timePtr reads a nullable time column: nil for NULL.
func timePtr(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseTime(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// deadline reads expires_at or revoked_at for a credential, which zero
// means "never": NULL is zero, and a value that cannot be read counts as
// the Unix epoch, long past, so that a revocation or expiry written by hand
// in an unexpected form still refuses the key.
func deadline(s sql.NullString) time.Time {
	if !s.Valid {
		return time.Time{}
	}
	t, err := parseTime(s.String)
	if err != nil || t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t
}
