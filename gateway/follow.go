package caddymodule

import (
	"context"
	"slices"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/keygate/keygate/keystore"
)

// follow runs f's change feed into the shared store's verifier, in a
// goroutine of the shared store's own: configs come and go on reloads,
// the listener stays until stopFollowing.
func (s *sharedStore) follow(f keystore.Follower) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.stopFollow, s.followDone = cancel, done
	logger := zap.New(currentCore{src: &s.logger}).Named("keygate.feed")
	go func() {
		defer close(done)
		_ = f.Follow(ctx, s.verifier, logger) // returns when ctx ends
	}()
}

// stopFollowing stops the follower, if any, and waits for it.
func (s *sharedStore) stopFollowing() {
	if s.stopFollow == nil {
		return
	}
	s.stopFollow()
	<-s.followDone
}

// currentCore writes through the logger last stored in src: the running
// config's, whose log outputs are open. A logger taken once from the
// config that opened a shared store would write to outputs a later config
// may have closed.
type currentCore struct {
	src    *atomic.Pointer[zap.Logger]
	fields []zapcore.Field
}

func (c currentCore) core() zapcore.Core {
	l := c.src.Load()
	if l == nil {
		return zapcore.NewNopCore()
	}
	if len(c.fields) == 0 {
		return l.Core()
	}
	return l.Core().With(c.fields)
}

func (c currentCore) Enabled(level zapcore.Level) bool { return c.core().Enabled(level) }

func (c currentCore) With(fields []zapcore.Field) zapcore.Core {
	return currentCore{src: c.src, fields: append(slices.Clip(c.fields), fields...)}
}

func (c currentCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	return c.core().Check(e, ce)
}

func (c currentCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	return c.core().Write(e, fields)
}

func (c currentCore) Sync() error { return c.core().Sync() }
