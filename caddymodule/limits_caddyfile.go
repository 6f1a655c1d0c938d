package caddymodule

import (
	"strconv"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// unmarshalOption reads one Limits subdirective of the `keygate` global
// option:
//
//	max_concurrent_lookups <n>
//	max_lookup_rate        <n>|off
//	failed_auth_limit      <n>|off
//	failed_auth_window     <duration>
func (l *Limits) unmarshalOption(d *caddyfile.Dispenser, name string) (err error) {
	switch name {
	case "max_concurrent_lookups":
		l.MaxConcurrentLookups, err = positiveIntArg(d, false)
	case "max_lookup_rate":
		l.MaxLookupRate, err = positiveIntArg(d, true)
	case "failed_auth_limit":
		l.FailedAuthLimit, err = positiveIntArg(d, true)
	case "failed_auth_window":
		l.FailedAuthWindow, err = durationArg(d)
	}
	return err
}

// positiveIntArg returns the one argument of the current subdirective as a
// positive number, or -1 for `off` when allowed.
func positiveIntArg(d *caddyfile.Dispenser, offAllowed bool) (int, error) {
	name := d.Val()
	s, err := singleArg(d)
	if err != nil {
		return 0, err
	}
	if offAllowed && s == "off" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		if offAllowed {
			return 0, d.Errf("invalid %s %q: want a positive number, or off", name, s)
		}
		return 0, d.Errf("invalid %s %q: want a positive number", name, s)
	}
	return n, nil
}
