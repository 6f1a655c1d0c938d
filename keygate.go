// Package keygate plugs keygate into a Caddy build: importing it registers
// the keygate app, the keygate handler, the keygate dynamic upstream
// source, keygate's admin API routes and its command line
// (`integrations`, `keys`). It is what xcaddy builds in:
//
//	xcaddy build --with github.com/keygate/keygate
//
// The code is in package caddymodule (the Caddy glue) and package keystore
// (the domain); cmd/keygate is the ready-made binary.
package keygate

import _ "github.com/keygate/keygate/caddymodule"
