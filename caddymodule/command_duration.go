package caddymodule

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// minKeyLifetime is the shortest lifetime a key may be created with. A
// shorter one would make a key that expires before anyone can use it, or
// one born expired: the store keeps times to timePrecision, so "1ns"
// stores an expires_at equal to created_at.
const minKeyLifetime = time.Second

// parseExpiresIn parses a key lifetime: a Go duration ("12h", "90m") or a
// whole number of days ("30d", "90d"), at least minKeyLifetime.
func parseExpiresIn(s string) (time.Duration, error) {
	d, err := parseLifetime("expires-in", s, false)
	if err == nil && d < minKeyLifetime {
		err = fmt.Errorf("invalid --expires-in %q: a key must live at least %s", strings.TrimSpace(s), minKeyLifetime)
	}
	return d, err
}

// parseLifetime parses the value of the option named flag: a Go duration
// ("12h", "90m") or a whole number of days ("30d", "90d"), positive, or
// also zero ("0") when zeroOK.
func parseLifetime(flag, s string, zeroOK bool) (time.Duration, error) {
	hint := `want a positive duration such as "30d", "12h" or "90m"`
	if zeroOK {
		hint = `want a duration such as "30d", "12h" or "90m", or "0"`
	}
	s = strings.TrimSpace(s)
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid --%s %q: %s", flag, s, hint)
		}
		if n > math.MaxInt64/int64(24*time.Hour) {
			return 0, fmt.Errorf("invalid --%s %q: too long", flag, s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("invalid --%s %q: %s", flag, s, hint)
		}
	}
	if d < 0 || (d == 0 && !zeroOK) {
		return 0, fmt.Errorf("invalid --%s %q: %s", flag, s, hint)
	}
	return d, nil
}
