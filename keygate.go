// Package keygate plugs keygate into a Caddy build: importing it registers
// the keygate app, the keygate handler, the keygate dynamic upstream
// source, keygate's admin API routes and its command line
// (`integrations`, `keys`). It is what xcaddy builds in:
//
//	xcaddy build --with github.com/keygate/keygate
//
// The Caddy glue is in packages caddymodule and caddymodule/cli, over
// packages that know nothing of Caddy: keystore (the domain), verify (the
// caching verifier), gateway (the runtime) and manage (the management
// operations); cmd/keygate is the ready-made binary.
package keygate

import (
	_ "github.com/keygate/keygate/caddymodule"
	_ "github.com/keygate/keygate/caddymodule/cli"
)
