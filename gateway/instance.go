package gateway

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/keygate/keygate/keystore"
)

// newInstance describes this gateway process for the fleet table: a
// random id (from random), made once per runtime so that it holds across
// config reloads, the host name, version (else the main module's) and
// the stale_ttl the liveness rule needs.
func newInstance(version string, staleTTL time.Duration, random io.Reader, now func() time.Time) (keystore.Instance, error) {
	var b [8]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return keystore.Instance{}, fmt.Errorf("making this gateway's instance id: %w", err)
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	if version == "" {
		version = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			version = bi.Main.Version
		}
	}
	return keystore.Instance{
		ID:        fmt.Sprintf("gw_%x", b),
		Hostname:  host,
		Version:   version,
		StartedAt: now(),
		StaleTTL:  staleTTL,
	}, nil
}
