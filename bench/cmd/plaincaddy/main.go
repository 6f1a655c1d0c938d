// Command plaincaddy is stock Caddy with its standard modules and nothing
// else, built from the same Caddy version and Go toolchain as keygate: the
// baseline of the benchmark harness (see ../kgbench).
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() {
	caddycmd.Main()
}
