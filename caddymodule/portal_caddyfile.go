package caddymodule

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("keygate_portal", parsePortalDirective)
	httpcaddyfile.RegisterDirectiveOrder("keygate_portal", httpcaddyfile.Before, "respond")
}

func parsePortalDirective(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	p := new(Portal)
	err := p.UnmarshalCaddyfile(h.Dispenser)
	return p, err
}

// UnmarshalCaddyfile sets up the portal from Caddyfile tokens. Syntax:
//
//	keygate_portal [<matcher>] {
//		gateway_url <url>
//		csrf_secret <secret>
//	}
//
// The block is optional. Mount the portal behind authentication, under a
// prefix that handle_path strips:
//
//	handle_path /portal/* {
//		basic_auth {
//			admin <bcrypt hash from `keygate hash-password`>
//		}
//		keygate_portal
//	}
//
// The directive is ordered before respond, after basic_auth and
// forward_auth, so that they run first.
func (p *Portal) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(sub string) (err error) {
		switch sub {
		case "gateway_url":
			p.GatewayURL, err = singleArg(d)
		case "csrf_secret":
			p.CSRFSecret, err = singleArg(d)
		default:
			return d.Errf("unknown keygate_portal subdirective %q (want gateway_url or csrf_secret)", sub)
		}
		return err
	})
}

var _ caddyfile.Unmarshaler = (*Portal)(nil)
