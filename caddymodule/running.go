package caddymodule

import (
	"sync/atomic"

	"go.uber.org/zap"
)

// runningApp is the running config's keygate app, as the admin API and
// the requests that old configs are still finishing see it.
type runningApp struct {
	shared *sharedStore
	logger *zap.Logger
}

// current is the running config's keygate app, nil when none runs. App.Start
// sets it; App.Stop clears it unless a newer config's app replaced it.
var current atomic.Pointer[runningApp]
