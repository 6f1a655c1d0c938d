package postgres

import (
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// nullableTime scans a nullable timestamptz column, infinities included:
// an operator may well write expires_at = 'infinity' by hand.
type nullableTime struct{ pgtype.Timestamptz }

// instant returns the time in UTC; zero for NULL and for infinity, which
// both mean "never" for expiry and revocation, and the Unix epoch for
// -infinity, "always already".
func (t nullableTime) instant() time.Time {
	switch {
	case !t.Valid || t.InfinityModifier == pgtype.Infinity:
		return time.Time{}
	case t.InfinityModifier == pgtype.NegativeInfinity:
		return time.Unix(0, 0).UTC()
	}
	return t.Time.UTC()
}

// ptr is instant as a pointer, nil for zero.
func (t nullableTime) ptr() *time.Time {
	v := t.instant()
	if v.IsZero() {
		return nil
	}
	return &v
}

// nullTime is t as a query argument, NULL when zero.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
