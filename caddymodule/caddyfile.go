package caddymodule

import (
	"math"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("keygate", parseGlobalOption)
	httpcaddyfile.RegisterHandlerDirective("keygate", parseHandlerDirective)
	httpcaddyfile.RegisterDirectiveOrder("keygate", httpcaddyfile.After, "forward_auth")
}

// parseGlobalOption sets up the keygate app from the `keygate` global
// option; see App.UnmarshalCaddyfile for its syntax.
func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("the keygate global option may be given only once")
	}
	app := new(App)
	if err := app.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{
		Name:  "keygate",
		Value: caddyconfig.JSON(app, nil),
	}, nil
}

// UnmarshalCaddyfile sets up the app from the `keygate` global option.
// Syntax:
//
//	keygate {
//		database       <url>
//		cache_size     <size>
//		cache_ttl      <duration>
//		stale_ttl      <duration>
//		negative_ttl   <duration>
//		lookup_timeout <duration>
//		key_prefix     <prefix>
//		max_key_age    <duration>
//		last_used_interval     <duration>
//		max_concurrent_lookups <n>
//		max_lookup_rate        <n>|off
//		failed_auth_limit      <n>|off
//		failed_auth_window     <duration>
//		max_token_ttl          <duration>
//		signing_key_ttl        <duration>
//		signing_key_secret     <secret>
//	}
//
// Every subdirective is optional and may be given once. Sizes take units
// (64MiB, 1GB); durations are Go durations or a number of days (1d). The
// database URL may use `{env.*}` placeholders, resolved when the config
// loads; without `database`, the KEYGATE_DATABASE_URL environment variable
// is used.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(sub string) (err error) {
		switch sub {
		case "database":
			a.Database, err = singleArg(d)
		case "cache_size":
			a.CacheSize, err = sizeArg(d)
		case "cache_ttl":
			a.CacheTTL, err = durationArg(d)
		case "stale_ttl":
			a.StaleTTL, err = durationArg(d)
		case "negative_ttl":
			a.NegativeTTL, err = durationArg(d)
		case "lookup_timeout":
			a.LookupTimeout, err = durationArg(d)
		case "max_key_age":
			a.MaxKeyAge, err = durationArg(d)
		case "last_used_interval":
			a.LastUsedInterval, err = durationArg(d)
		case "key_prefix":
			if a.KeyPrefix, err = singleArg(d); err == nil {
				err = dispenserErr(d, checkKeyPrefix(a.KeyPrefix))
			}
		case "max_token_ttl":
			a.MaxTokenTTL, err = durationArg(d)
		case "signing_key_ttl":
			a.SigningKeyTTL, err = durationArg(d)
		case "signing_key_secret":
			a.SigningKeySecret, err = singleArg(d)
		case "max_concurrent_lookups", "max_lookup_rate", "failed_auth_limit", "failed_auth_window":
			err = a.Limits.unmarshalOption(d, sub)
		default:
			return d.Errf("unrecognized keygate option %q", sub)
		}
		return err
	})
}

// parseHandlerDirective sets up the handler from the `keygate` directive;
// see Handler.UnmarshalCaddyfile for its syntax.
func parseHandlerDirective(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(Handler)
	err := handler.UnmarshalCaddyfile(h.Dispenser)
	return handler, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	keygate [<matcher>] {
//		integration <id|placeholder>
//		forward_credentials
//	}
//
// The block is optional. `integration` pins the route to one integration,
// given by id or by a placeholder resolved per request (such as
// `{re.tenant.1}`); `forward_credentials` keeps the Authorization header
// for the upstream.
//
// The directive is ordered where Caddy puts authentication: after
// basic_auth and forward_auth, before request_header, handle, route,
// respond, rewrite and reverse_proxy. A top-level `keygate` in a site
// therefore protects every handle block beside it, and later directives
// can use the {keygate.*} placeholders.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(sub string) (err error) {
		switch sub {
		case "integration":
			if h.Integration, err = singleArg(d); err == nil {
				err = dispenserErr(d, checkPinnedIntegration(h.Integration))
			}
			return err
		case "forward_credentials":
			h.ForwardCredentials = true
			if d.NextArg() {
				return d.ArgErr()
			}
			return nil
		}
		return d.Errf("unrecognized keygate subdirective %q", sub)
	})
}

// UnmarshalCaddyfile sets up the upstream source from Caddyfile tokens,
// inside reverse_proxy. Syntax:
//
//	dynamic keygate
//
// It takes no arguments and no block. The reverse_proxy gets the keygate
// transport when it names none.
func (u *Upstreams) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(string) error {
		return d.Err("dynamic keygate takes no block")
	})
}

// UnmarshalCaddyfile sets up the transport from Caddyfile tokens, inside
// a reverse_proxy with `dynamic keygate`. Syntax:
//
//	transport keygate {
//		<any subdirective of transport http>
//	}
//
// such as `tls_trust_pool file <ca.pem>`, `tls_server_name <name>`,
// `dial_timeout <duration>` or `versions h2c 2`. The tls_* subdirectives
// apply to https integrations only, which use TLS without them too.
func (t *Transport) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return t.HTTPTransport.UnmarshalCaddyfile(d)
}

// parseBlock reads a directive or option that takes no argument and an
// optional block, calling sub for each subdirective in it: sub reads the
// subdirective's arguments. A subdirective may be given once and may not
// open a block of its own.
func parseBlock(d *caddyfile.Dispenser, sub func(name string) error) error {
	d.Next() // consume the directive or option name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := make(map[string]bool)
	for d.NextBlock(0) {
		name := d.Val()
		if seen[name] {
			return d.Errf("%s already specified", name)
		}
		seen[name] = true
		if err := sub(name); err != nil {
			return err
		}
		if d.NextBlock(d.Nesting()) {
			return d.Errf("%s takes no block", name)
		}
	}
	return nil
}

// dispenserErr returns err, if any, located at the current token.
func dispenserErr(d *caddyfile.Dispenser, err error) error {
	if err == nil {
		return nil
	}
	return d.Err(err.Error())
}

// singleArg returns the one argument of the current subdirective.
func singleArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	val := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return val, nil
}

// sizeArg returns the one argument of the current subdirective as a
// positive number of bytes: 67108864, 64MiB, 1GB.
func sizeArg(d *caddyfile.Dispenser) (int64, error) {
	name := d.Val()
	s, err := singleArg(d)
	if err != nil {
		return 0, err
	}
	n, err := humanize.ParseBytes(s)
	if err != nil {
		// humanize's own errors (`strconv.ParseFloat: parsing ""`) would
		// not tell the operator what to write.
		return 0, d.Errf("invalid %s %q: want a number of bytes with an optional unit, such as 67108864, 64MiB or 1GB", name, s)
	}
	if n == 0 || n > math.MaxInt64 {
		return 0, d.Errf("invalid %s %q: must be between 1 byte and 8 EiB", name, s)
	}
	return int64(n), nil
}

// durationArg returns the one argument of the current subdirective as a
// positive duration.
func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	name := d.Val()
	s, err := singleArg(d)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return 0, d.Errf("invalid %s %q: %v; want a duration such as 500ms, 30s, 10m, 1h30m or 1d", name, s, err)
	}
	if dur <= 0 {
		return 0, d.Errf("invalid %s %q: must be positive", name, s)
	}
	return caddy.Duration(dur), nil
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*App)(nil)
	_ caddyfile.Unmarshaler = (*Handler)(nil)
	_ caddyfile.Unmarshaler = (*Upstreams)(nil)
	_ caddyfile.Unmarshaler = (*Transport)(nil)
)
