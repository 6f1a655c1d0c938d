package gateway

import (
	"fmt"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestFollowerLogsToRunningConfig: the follower of a shared store logs
// through the logger of the config that started last.
func TestFollowerLogsToRunningConfig(t *testing.T) {
	var src atomic.Pointer[zap.Logger]
	logger := zap.New(currentCore{src: &src}).Named("keygate.feed")
	logger.Info("dropped: no logger yet")

	oldCore, oldLogs := observer.New(zapcore.InfoLevel)
	src.Store(zap.New(oldCore))
	logger.With(zap.Int("n", 1)).Info("first")
	newCore, newLogs := observer.New(zapcore.WarnLevel)
	src.Store(zap.New(newCore))
	logger.Info("below the new config's level")
	logger.Warn("second", zap.Int("n", 2))

	if got := fmt.Sprint(oldLogs.Len(), newLogs.Len()); got != "1 1" {
		t.Fatalf("entries in the old and new config's logs: %s, want 1 1", got)
	}
	if e := oldLogs.All()[0]; e.Message != "first" || e.LoggerName != "keygate.feed" || e.ContextMap()["n"] != int64(1) {
		t.Errorf("old config's log got %+v", e)
	}
	if e := newLogs.All()[0]; e.Message != "second" || e.ContextMap()["n"] != int64(2) {
		t.Errorf("new config's log got %+v", e)
	}
}
