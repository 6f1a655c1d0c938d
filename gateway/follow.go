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
// the listener stays until stopFollowing. A store that keeps the fleet
// table records the runtime's instance in it as it follows (never on the
// request path), and the live count it reads back is GatewaysLive's.
func (rt *Runtime) follow(f keystore.Follower) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	rt.stopFollow, rt.followDone = cancel, done
	logger := zap.New(currentCore{src: &rt.logger}).Named("keygate.feed")
	go func() {
		defer close(done)
		// Both return when ctx ends.
		if ff, ok := f.(keystore.FleetFollower); ok {
			_ = ff.FollowAs(ctx, rt.verifier, logger, rt.self, func(n int) { rt.live.Store(int64(n)) })
			return
		}
		_ = f.Follow(ctx, rt.verifier, logger)
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

// Instance is how this runtime records itself in the fleet table.
func (rt *Runtime) Instance() keystore.Instance { return rt.self }

// GatewaysLive returns how many gateway instances were live in the fleet
// table, this one included, as of this runtime's last record: 0 before
// the first one, or when the store keeps no fleet.
func (rt *Runtime) GatewaysLive() int { return int(rt.live.Load()) }

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
