package keystore

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// TimePrecision is what a store keeps of a timestamp: every time written
// to a store is truncated to it first (see Stamp).
const TimePrecision = time.Microsecond

// Stamp returns t as a store keeps it: in UTC, truncated to TimePrecision.
func Stamp(t time.Time) time.Time { return t.UTC().Truncate(TimePrecision) }

// MinKeyLifetime is the shortest lifetime a key may be created with. A
// shorter one makes a key that expires before anyone can use it, or one
// born expired: a store keeps TimePrecision, so "1ns" would store an
// expires_at equal to created_at.
const MinKeyLifetime = time.Second

// ParseLifetime parses a lifetime such as a key's expiry or a rotation's
// grace: a Go duration ("12h", "90m") or a whole number of days ("30d",
// "90d"), positive, or also zero ("0") when zeroOK. Its error quotes s
// and says what is wanted, and reads after the name of the field, as in
// `invalid --grace "x": want ...`.
func ParseLifetime(s string, zeroOK bool) (time.Duration, error) {
	hint := `want a positive duration such as "30d", "12h" or "90m"`
	if zeroOK {
		hint = `want a duration such as "30d", "12h" or "90m", or "0"`
	}
	s = strings.TrimSpace(s)
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %s", s, hint)
		}
		if n > math.MaxInt64/int64(24*time.Hour) {
			return 0, fmt.Errorf("%q: too long", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q: %s", s, hint)
		}
	}
	if d < 0 || (d == 0 && !zeroOK) {
		return 0, fmt.Errorf("%q: %s", s, hint)
	}
	return d, nil
}

// FormatLifetime writes d as ParseLifetime reads it, as a person would:
// whole days as "30d", anything else as a Go duration without trailing
// zero units ("2h" and "1h30m" rather than "2h0m0s" and "1h30m0s").
func FormatLifetime(d time.Duration) string {
	const day = 24 * time.Hour
	if d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
