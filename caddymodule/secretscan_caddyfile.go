package caddymodule

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("keygate_secret_scanning", parseSecretScanningDirective)
	httpcaddyfile.RegisterDirectiveOrder("keygate_secret_scanning", httpcaddyfile.Before, "basic_auth")
}

// parseSecretScanningDirective sets up the handler from the
// `keygate_secret_scanning` directive; see
// SecretScanning.UnmarshalCaddyfile for its syntax.
func parseSecretScanningDirective(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(SecretScanning)
	err := handler.UnmarshalCaddyfile(h.Dispenser)
	return handler, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	keygate_secret_scanning [<matcher>] {
//		public_keys   <file>
//		max_body_size <size>
//		max_tokens    <n>
//	}
//
// `public_keys` is required: the file of the partners' public keys, in
// the shape of https://api.github.com/meta/public_keys/secret_scanning.
// Sizes take units (1MiB, 512KB).
//
// The directive answers every request it matches, so give it a matcher
// (a path). It is ordered before basic_auth, forward_auth and keygate:
// partners authenticate by their signature, not by a key or a password,
// and a top-level `keygate` beside it must not ask them for one.
func (h *SecretScanning) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(sub string) (err error) {
		switch sub {
		case "public_keys":
			h.PublicKeys, err = singleArg(d)
		case "max_body_size":
			h.MaxBodySize, err = sizeArg(d)
		case "max_tokens":
			h.MaxTokens, err = positiveIntArg(d, false)
		default:
			return d.Errf("unrecognized keygate_secret_scanning subdirective %q", sub)
		}
		return err
	})
}

// Interface guards
var _ caddyfile.Unmarshaler = (*SecretScanning)(nil)
