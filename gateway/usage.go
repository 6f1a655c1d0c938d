package gateway

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/keygate/keygate/verify"
)

// usageFlushTimeout bounds one write of gathered key uses, the last one at
// shutdown included.
const usageFlushTimeout = 5 * time.Second

// startUsage starts gathering key uses and writing them to the store every
// interval (verify.DefaultUsageInterval when 0).
func (rt *Runtime) startUsage(interval time.Duration, metrics verify.Metrics) {
	if interval <= 0 {
		interval = verify.DefaultUsageInterval
	}
	rt.usage = verify.NewUsageRecorder(rt.store, usageFlushTimeout)
	rt.usage.SetMetrics(metrics)
	go rt.usage.Run(interval, func(err error) {
		rt.logger.Load().Warn("recording key uses failed; retrying at the next interval", zap.Error(err))
	})
}

// stopUsage stops the periodic writes and writes what is left, before the
// store closes.
func (rt *Runtime) stopUsage() {
	if rt.usage == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), usageFlushTimeout)
	defer cancel()
	if err := rt.usage.Close(ctx, true); err != nil {
		rt.logger.Load().Warn("recording the last key uses at shutdown failed", zap.Error(err))
	}
}

// recordUse notes a use of the key with this id for last_used_at.
func (rt *Runtime) recordUse(id string, at time.Time) {
	if rt.usage != nil {
		rt.usage.Record(id, at)
	}
}
