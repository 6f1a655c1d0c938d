package sqlite

import (
	"testing"

	"github.com/keygate/keygate/keystore/storetest"
)

func TestTouchWritesNoFeed(t *testing.T) {
	s := open(t, tempPath(t))
	storetest.TouchWritesNoFeed(t, s, func() int64 {
		var n int64
		if err := s.reader.QueryRowContext(t.Context(), `SELECT count(*) FROM keygate_changes`).Scan(&n); err != nil {
			t.Fatalf("counting feed rows: %v", err)
		}
		return n
	})
}
