package integration_tests

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate/keystore"
)

// countRowWrites makes the test's database count every row written to a
// keygate_ table, by table and operation, with a trigger of the test's
// own; rowWrites reads the counts.
func countRowWrites(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	stmts := []string{
		`CREATE TABLE test_row_writes (tbl text NOT NULL, op text NOT NULL)`,
		`CREATE FUNCTION test_count_row_write() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO test_row_writes VALUES (TG_TABLE_NAME, TG_OP);
			RETURN NULL;
		END $$`,
	}
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables
		WHERE schemaname = current_schema() AND tablename LIKE 'keygate\_%'`)
	if err != nil {
		t.Fatalf("listing keygate's tables: %v", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 4 {
		t.Fatalf("keygate's tables: %v, %v; want the keys, integrations, feed and fleet tables at least", tables, err)
	}
	for _, tbl := range tables {
		stmts = append(stmts, fmt.Sprintf(`CREATE TRIGGER test_count_row_writes AFTER INSERT OR UPDATE OR DELETE ON %s
			FOR EACH ROW EXECUTE FUNCTION test_count_row_write()`, pgx.Identifier{tbl}.Sanitize()))
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("counting row writes: %s: %v", s, err)
		}
	}
}

// rowWrites returns the rows written since countRowWrites, by
// "table operation".
func rowWrites(t *testing.T, conn *pgx.Conn) map[string]int {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT tbl || ' ' || op, count(*) FROM test_row_writes GROUP BY 1`)
	if err != nil {
		t.Fatalf("reading the row writes: %v", err)
	}
	m := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatalf("reading the row writes: %v", err)
		}
		m[k] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("reading the row writes: %v", err)
	}
	return m
}

// Authenticated requests write nothing to the key store, accepted or
// refused, cached or not: the only writes while they run are the
// gateway's fleet heartbeat, which grows with time and not with requests,
// and the batched last_used_at flush, here due only at shutdown, which
// writes each key used once.
func TestNoDatabaseWriteOnTheRequestPath(t *testing.T) {
	t.Parallel()
	const requests = 600
	w := newWorld(t)
	gw := w.start(gatewayConfig{CacheTTL: "10m", LastUsedInterval: "1h"})
	used := w.h.createKey("echo", "used")
	revoked := w.h.createKey("echo", "revoked")
	w.h.mustCLI("keys", "revoke", revoked.ID)
	conn := w.h.dbConn()
	countRowWrites(t, conn)

	start := time.Now()
	for i := range requests {
		key, want := used.Key, http.StatusOK
		switch i % 6 {
		case 1:
			key, want = revoked.Key, http.StatusUnauthorized
		case 2: // a new unknown key each time: a store lookup each
			unknown, _, err := keystore.GenerateKey(nil, keystore.DefaultPrefix)
			if err != nil {
				t.Fatal(err)
			}
			key, want = unknown, http.StatusUnauthorized
		case 3:
			key, want = "", http.StatusUnauthorized
		case 4: // another integration's route: 403 after the lookup
			if r := gw.get(t, "/pinned/x", used.Key); r.status != http.StatusForbidden {
				t.Fatalf("request %d: %d from the pinned route with an echo key, want 403", i, r.status)
			}
			continue
		}
		if r := gw.get(t, "/hello", key); r.status != want {
			t.Fatalf("request %d: %d, want %d", i, r.status, want)
		}
	}
	elapsed := time.Since(start)
	during := rowWrites(t, conn)
	t.Logf("%d requests in %s wrote %v", requests, elapsed.Round(time.Millisecond), during)
	// A heartbeat a second, one more for the read that began the run, and
	// room for a slow machine's scheduling; never near one per request.
	beats := int(elapsed/time.Second) + 2
	if n := during["keygate_gateways UPDATE"]; n > 2*beats {
		t.Errorf("%d fleet rows written during %d requests in %s, want at most %d (the heartbeat's)", n, requests, elapsed.Round(time.Millisecond), 2*beats)
	}
	delete(during, "keygate_gateways UPDATE")
	if len(during) != 0 {
		t.Errorf("%d requests wrote rows other than the fleet heartbeat: %v, want none", requests, during)
	}

	gw.stop() // flushes last_used_at and leaves the fleet
	after := rowWrites(t, conn)
	if n := after["keygate_keys UPDATE"]; n != 1 {
		t.Errorf("the last_used_at flush at shutdown wrote %d key rows, want 1: the one key used, once", n)
	}
	if n := after["keygate_gateways DELETE"]; n != 1 {
		t.Errorf("the gateway's stop deleted %d fleet rows, want its own", n)
	}
	var k keyRecord
	decodeJSON(t, w.h.mustCLI("keys", "show", used.ID, "--json"), &k)
	if k.LastUsedAt == nil {
		t.Errorf("the key used has no last_used_at after the flush")
	}
}
