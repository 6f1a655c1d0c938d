package caddymodule

import (
	"testing"
	"time"
)

func TestParseExpiresIn(t *testing.T) {
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
		got, err := parseExpiresIn(in)
		if err != nil || got != want {
			t.Errorf("parseExpiresIn(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "0s", "0d", "-1h", "-3d", "d", "1.5d", "3 days", "1w", "abc", "99999999999d", "1d12h"} {
		if got, err := parseExpiresIn(in); err == nil {
			t.Errorf("parseExpiresIn(%q) = %v, want an error", in, got)
		}
	}
}
