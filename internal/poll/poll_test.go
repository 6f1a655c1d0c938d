package poll

import (
	"fmt"
	"testing"
	"time"
)

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	n := 0
	Until(t, time.Minute, "third call", func() (bool, string) {
		n++
		return n == 3, fmt.Sprintf("call %d", n)
	})
	if n != 3 {
		t.Fatalf("cond called %d times, want 3", n)
	}
}

// recorder is a testing.TB whose Fatalf is recorded instead of ending the
// test.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	panic(r)
}

func TestUntilFailsWithTheLastExplanation(t *testing.T) {
	r := &recorder{TB: t}
	func() {
		defer func() {
			if p := recover(); p != r {
				t.Fatalf("Until did not fail the test (recovered %v)", p)
			}
		}()
		Until(r, 3*Interval, "never", func() (bool, string) { return false, "still false" })
	}()
	if want := "never: not after 30ms: still false"; r.msg != want {
		t.Fatalf("failure %q, want %q", r.msg, want)
	}
}
