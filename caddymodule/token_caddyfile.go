package caddymodule

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	for name, parse := range map[string]httpcaddyfile.UnmarshalHandlerFunc{
		"keygate_token":  parseTokenDirective,
		"keygate_jwks":   parseJWKSDirective,
		"keygate_rotate": parseRotateDirective,
	} {
		httpcaddyfile.RegisterHandlerDirective(name, parse)
		// Ahead of keygate, which caddyfile.go's init (run before this
		// file's) placed right after forward_auth: inserted there too, these
		// come between the two, so that a site whose top-level keygate
		// protects every path still answers token requests, which carry
		// no Bearer token. TestTokenDirectivesOrderedBeforeKeygate checks.
		httpcaddyfile.RegisterDirectiveOrder(name, httpcaddyfile.After, "forward_auth")
	}
}

func parseTokenDirective(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(TokenHandler)
	return handler, handler.UnmarshalCaddyfile(h.Dispenser)
}

func parseJWKSDirective(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(JWKSHandler)
	return handler, handler.UnmarshalCaddyfile(h.Dispenser)
}

func parseRotateDirective(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(RotateHandler)
	return handler, handler.UnmarshalCaddyfile(h.Dispenser)
}

// UnmarshalCaddyfile sets up the token endpoint from Caddyfile tokens.
// Syntax:
//
//	keygate_token [<matcher>] {
//		token_ttl <duration>
//	}
//
// The block is optional. The directive is ordered before keygate, so that
// `keygate_token /oauth/token` answers there even in a site that a
// top-level keygate protects.
func (h *TokenHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(sub string) (err error) {
		if sub == "token_ttl" {
			h.TokenTTL, err = durationArg(d)
			return err
		}
		return d.Errf("unrecognized keygate_token subdirective %q", sub)
	})
}

// UnmarshalCaddyfile sets up the key set endpoint. Syntax:
//
//	keygate_jwks [<matcher>]
//
// It takes no arguments and no block; it is ordered before keygate.
func (h *JWKSHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(sub string) error {
		return d.Errf("keygate_jwks takes no subdirective, got %q", sub)
	})
}

// UnmarshalCaddyfile sets up the self-rotation endpoint. Syntax:
//
//	keygate_rotate [<matcher>]
//
// It takes no arguments and no block; it is ordered before keygate, so
// that a key that is exchange-only can still roll itself.
func (h *RotateHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(sub string) error {
		return d.Errf("keygate_rotate takes no subdirective, got %q", sub)
	})
}
