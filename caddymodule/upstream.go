package caddymodule

import (
	"errors"
	"net/http"

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
// reverse_proxy takes only an address from a dynamic upstream, so the
// base URL's path and scheme are applied in the config, with the
// `{keygate.integration.path}` and `{keygate.integration.scheme}`
// placeholders:
//
//	@https vars {keygate.integration.scheme} https
//	reverse_proxy @https {
//		dynamic keygate
//		rewrite {keygate.integration.path}{uri}
//		transport http {
//			tls
//		}
//	}
//	reverse_proxy {
//		dynamic keygate
//		rewrite {keygate.integration.path}{uri}
//	}
type Upstreams struct{}

// CaddyModule returns the Caddy module information.
func (Upstreams) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.upstreams.keygate",
		New: func() caddy.Module { return new(Upstreams) },
	}
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
	_ reverseproxy.UpstreamSource = (*Upstreams)(nil)
)
