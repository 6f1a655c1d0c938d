package caddymodule

import (
	"sync/atomic"

	"github.com/keygate/keygate/gateway"
	"go.uber.org/zap"
)

// runningApp is the running config's keygate app, as the admin API and
// the requests that old configs are still finishing see it.
type runningApp struct {
	runtime *gateway.Runtime
	logger  *zap.Logger
}

// current is the running config's keygate app, nil when none runs. App.Start
// sets it; App.Stop clears it unless a newer config's app replaced it.
var current atomic.Pointer[runningApp]

// runningRuntime returns the running config's runtime, nil when none runs:
// the fallback of requests whose own config's runtime a reload closed.
func runningRuntime() *gateway.Runtime {
	if r := current.Load(); r != nil {
		return r.runtime
	}
	return nil
}
