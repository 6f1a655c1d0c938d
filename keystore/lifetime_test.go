package keystore

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseLifetime(t *testing.T) {
	good := map[string]time.Duration{
		"30d":   30 * 24 * time.Hour,
		"90d":   90 * 24 * time.Hour,
		"1d":    24 * time.Hour,
		"12h":   12 * time.Hour,
		"90m":   90 * time.Minute,
		"1h30m": 90 * time.Minute,
		"1s":    time.Second,
		" 7d ":  7 * 24 * time.Hour,
	}
	for in, want := range good {
		got, err := ParseLifetime(in, false)
		if err != nil || got != want {
			t.Errorf("ParseLifetime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "0s", "0d", "-1h", "-3d", "d", "1.5d", "3 days", "1w", "abc", "99999999999d", "1d12h"} {
		if got, err := ParseLifetime(in, false); err == nil {
			t.Errorf("ParseLifetime(%q, false) = %v, want an error", in, got)
		}
	}
	// zeroOK admits "0", never a negative or malformed lifetime.
	for in, want := range map[string]time.Duration{"0": 0, "0s": 0, "0d": 0, "1h": time.Hour} {
		if got, err := ParseLifetime(in, true); err != nil || got != want {
			t.Errorf("ParseLifetime(%q, true) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1h", "abc"} {
		if _, err := ParseLifetime(in, true); err == nil || !strings.Contains(err.Error(), strconv.Quote(in)) {
			t.Errorf("ParseLifetime(%q, true) = %v, want an error quoting it", in, err)
		}
	}
}

// TestFormatLifetime: durations print without zero units, and read back
// as themselves.
func TestFormatLifetime(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * 24 * time.Hour:               "30d",
		2 * time.Hour:                     "2h",
		time.Hour + 30*time.Minute:        "1h30m",
		30 * time.Minute:                  "30m",
		90 * time.Second:                  "1m30s",
		time.Hour + 1500*time.Millisecond: "1h0m1.5s",
		36 * time.Hour:                    "36h",
		0:                                 "0s",
	} {
		got := FormatLifetime(d)
		if got != want {
			t.Errorf("FormatLifetime(%v) = %q, want %q", d, got, want)
		}
		if back, err := ParseLifetime(got, true); err != nil || back != d {
			t.Errorf("ParseLifetime(%q) = %v, %v; want %v", got, back, err, d)
		}
	}
}
