package postgres

import (
	"testing"

	"github.com/keygate/keygate/internal/pgtest"
	"github.com/keygate/keygate/keystore/storetest"
)

func TestTouchWritesNoFeed(t *testing.T) {
	s := open(t, pgtest.URL(t))
	storetest.TouchWritesNoFeed(t, s, func() int64 {
		var n int64
		if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM keygate_changes`).Scan(&n); err != nil {
			t.Fatalf("counting feed rows: %v", err)
		}
		return n
	})
}
