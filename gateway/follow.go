package gateway

import (
	"context"
	"slices"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/keygate/keygate/keystore"
)

// follow runs f's change feed into the runtime's verifier, in a
// goroutine of the runtime's own: configs come and go on reloads,
// the listener stays until stopFollowing.
func (rt *Runtime) follow(f keystore.Follower) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	rt.stopFollow, rt.followDone = cancel, done
	logger := zap.New(currentCore{src: &rt.logger}).Named("keygate.feed")
	go func() {
		defer close(done)
		_ = f.Follow(ctx, rt.verifier, logger) // returns when ctx ends
	}()
}

// stopFollowing stops the follower, if any, and waits for it.
func (rt *Runtime) stopFollowing() {
	if rt.stopFollow == nil {
		return
	}
	rt.stopFollow()
	<-rt.followDone
}

// currentCore writes through the logger last stored in src: the running
// config's, whose log outputs are open. A logger taken once from the
// config that opened a runtime would write to outputs a later config
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
