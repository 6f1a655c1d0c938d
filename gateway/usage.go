package caddymodule

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
)

// usageFlushTimeout bounds one write of gathered key uses, the last one at
// shutdown included.
const usageFlushTimeout = 5 * time.Second

// startUsage starts gathering key uses and writing them to the store every
// interval (keystore.DefaultUsageInterval when 0).
func (s *sharedStore) startUsage(interval time.Duration) {
	if interval <= 0 {
		interval = keystore.DefaultUsageInterval
	}
	s.usage = keystore.NewUsageRecorder(s.store, usageFlushTimeout)
	s.usage.SetMetrics(metrics.verifier())
	go s.usage.Run(interval, func(err error) {
		s.logger.Load().Warn("recording key uses failed; retrying at the next interval", zap.Error(err))
	})
}

// stopUsage stops the periodic writes and writes what is left, before the
// store closes.
func (s *sharedStore) stopUsage() {
	if s.usage == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), usageFlushTimeout)
	defer cancel()
	if err := s.usage.Close(ctx, true); err != nil {
		s.logger.Load().Warn("recording the last key uses at shutdown failed", zap.Error(err))
	}
}

// recordUse notes a use of the key with this id for last_used_at.
func (s *sharedStore) recordUse(id string, at time.Time) {
	if s.usage != nil {
		s.usage.Record(id, at)
	}
}

// clock returns now by the shared store's clock, time.Now when it has
// none.
func (s *sharedStore) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}
