// Command keygate is Caddy with the standard modules and keygate's own: the
// keygate app, the keygate handler, the keygate dynamic upstream source and
// the `keygate integrations` and `keygate keys` commands.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/keygate/keygate/caddymodule"
	_ "github.com/keygate/keygate/caddymodule/cli"
)

func main() {
	caddycmd.Main()
}
