package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

func init() {
	caddy.RegisterModule(Upstreams{})
}

// Upstreams is the dynamic upstream source of requests authenticated by
// the keygate handler: the host:port of the base URL of the key's
// integration (the port defaulted from its scheme). A request that keygate
// did not authenticate has no upstream.
//
// The keygate transport builds the rest of the upstream request (scheme,
// path under the base path, Host), and `dynamic keygate` installs it in a
// reverse_proxy that has no transport, so that the whole route is:
//
//	keygate
//	reverse_proxy {
//		dynamic keygate
//	}
//
// The config fails to load when the reverse_proxy has another transport
// (write `transport keygate` with the same subdirectives) or rewrites
// with the {keygate.integration.*} placeholders (keygate builds the path
// itself).
type Upstreams struct{}

// CaddyModule returns the Caddy module information.
func (Upstreams) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.upstreams.keygate",
		New: func() caddy.Module { return new(Upstreams) },
	}
}

// Provision checks the reverse_proxy around the source and gives it the
// keygate transport if it has none. reverse_proxy loads its transport
// before its upstream source, and sets its default transport only after,
// if it still has none.
func (Upstreams) Provision(ctx caddy.Context) error {
	rp := parentReverseProxy(ctx)
	if rp == nil {
		return errors.New("dynamic keygate must be the upstream source of a reverse_proxy")
	}
	if err := checkReverseProxy(rp); err != nil {
		return err
	}
	if rp.Transport != nil {
		return nil
	}
	tr, err := ctx.LoadModuleByID("http.reverse_proxy.transport.keygate", json.RawMessage("{}"))
	if err != nil {
		return fmt.Errorf("dynamic keygate: setting up transport keygate: %w", err)
	}
	rp.Transport = tr.(*Transport)
	return nil
}

// checkReverseProxy fails, saying what to write instead, for what a
// reverse_proxy with `dynamic keygate` must not have: another transport
// than keygate's, or a rewrite with the {keygate.integration.*}
// placeholders (the routes documented before keygate built the upstream request).
func checkReverseProxy(rp *reverseproxy.Handler) error {
	if rp.Transport != nil {
		if _, ok := rp.Transport.(*Transport); !ok {
			name := fmt.Sprintf("%T", rp.Transport)
			if m, ok := rp.Transport.(caddy.Module); ok {
				name = strings.TrimPrefix(string(m.CaddyModule().ID), "http.reverse_proxy.transport.")
			}
			return fmt.Errorf("dynamic keygate cannot use transport %s: write `transport keygate` with the same subdirectives (it takes those of transport http, and uses TLS for https integrations by itself)", name)
		}
	}
	if rp.Rewrite != nil {
		raw, err := json.Marshal(rp.Rewrite)
		if err == nil && strings.Contains(string(raw), "{keygate.integration.") {
			return errors.New("dynamic keygate: remove `rewrite {keygate.integration.path}{uri}` (and any rewrite with {keygate.integration.*}) from the reverse_proxy: keygate builds the upstream path itself, under the integration's base path")
		}
	}
	return nil
}

var errNotAuthenticated = errors.New("request was not authenticated by the keygate handler: no upstream")

// upstreamSet is one upstream and the slice that holds it, allocated
// together.
type upstreamSet struct {
	list [1]*reverseproxy.Upstream
	up   reverseproxy.Upstream
}

// GetUpstreams returns the authenticated request's integration as the only
// upstream.
//
// The Upstream is new on every call: reverse_proxy writes into the
// upstreams a source returns (their health state and the handler's
// circuit breaker and health check policy), so sharing them between
// requests or reverse_proxy handlers would race. The health state itself
// is kept by reverse_proxy per address across calls.
func (Upstreams) GetUpstreams(r *http.Request) ([]*reverseproxy.Upstream, error) {
	t, ok := caddyhttp.GetVar(r.Context(), targetVar).(*target)
	if !ok {
		return nil, errNotAuthenticated
	}
	set := &upstreamSet{}
	set.up.Dial = t.hostport
	set.list[0] = &set.up
	return set.list[:], nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Upstreams)(nil)
	_ reverseproxy.UpstreamSource = (*Upstreams)(nil)
)
