package caddymodule

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/keygate/keygate/keystore"
)

// newInstance describes this gateway process for the fleet table: a
// random id (from random), made once per shared store so that it holds
// across config reloads, the host name, keygate's version and the
// stale_ttl the liveness rule needs.
func newInstance(staleTTL time.Duration, random io.Reader, now func() time.Time) (keystore.Instance, error) {
	var b [8]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return keystore.Instance{}, fmt.Errorf("making this gateway's instance id: %w", err)
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return keystore.Instance{
		ID:        fmt.Sprintf("gw_%x", b),
		Hostname:  host,
		Version:   keygateVersion(),
		StartedAt: now(),
		StaleTTL:  staleTTL,
	}, nil
}

// keygateVersion is what `make build` stamps (git describe), else the
// main module's version.
func keygateVersion() string {
	if caddy.CustomVersion != "" {
		return caddy.CustomVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "unknown"
}
