package integration_tests

import (
	"testing"
	"time"
)

// pollInterval is how often a condition is checked while waiting for it.
const pollInterval = 20 * time.Millisecond

// eventually checks cond every pollInterval until it holds, and fails t
// with cond's last explanation if it still does not after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (ok bool, why string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %s", what, timeout, why)
		}
		time.Sleep(pollInterval)
	}
}
