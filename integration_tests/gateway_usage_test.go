package integration_tests

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/poll"
)

// TestUsageCountsRideTheLastUsedFlush: a gateway counts each key's
// requests in the key store's usage buckets, written by the batched
// last-used flush: N requests cost at most one insert statement per
// flush, never one per request. A statement-level trigger counts the
// statements that write keygate_key_usage.
func TestUsageCountsRideTheLastUsedFlush(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.h.execSQL(`CREATE TABLE usage_statements (n int NOT NULL)`)
	w.h.execSQL(`INSERT INTO usage_statements VALUES (0)`)
	w.h.execSQL(`CREATE FUNCTION count_usage_statement() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN UPDATE usage_statements SET n = n + 1; RETURN NULL; END $$`)
	w.h.execSQL(`CREATE TRIGGER count_usage_statements AFTER INSERT ON keygate_key_usage
		FOR EACH STATEMENT EXECUTE FUNCTION count_usage_statement()`)
	gw := w.start(gatewayConfig{LastUsedInterval: "200ms"})
	a, b := w.h.createKey("echo", "a"), w.h.createKey("echo", "b")

	const perKey = 150
	var wg sync.WaitGroup
	for _, k := range []createdKey{a, b} {
		for range 3 {
			wg.Go(func() {
				for range perKey / 3 {
					if r := gw.get(t, "/usage", k.Key); r.status != http.StatusOK {
						t.Errorf("status %d, want 200", r.status)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	conn := w.h.dbConn()
	requests := func(id string) int {
		return queryInt(t, conn, `SELECT COALESCE(SUM(requests), 0)::int FROM keygate_key_usage WHERE key_id = $1`, id)
	}
	poll.Until(t, 10*time.Second, "the counts of both keys to reach the store", func() (bool, string) {
		ra, rb := requests(a.ID), requests(b.ID)
		return ra == perKey && rb == perKey, fmt.Sprintf("a: %d, b: %d requests stored, want %d each", ra, rb, perKey)
	})
	statements := queryInt(t, conn, `SELECT n FROM usage_statements`)
	flushes := gw.scrapeMetrics(t)["keygate_last_used_flushes_total"]
	if statements < 1 || float64(statements) > flushes {
		t.Errorf("%d requests took %d insert statements in %v flushes; want at most one per flush",
			2*perKey, statements, flushes)
	}
	if statements > 2*perKey/10 {
		t.Errorf("%d requests took %d insert statements: not batched", 2*perKey, statements)
	}
}
