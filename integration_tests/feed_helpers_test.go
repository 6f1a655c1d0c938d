package integration_tests

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// feedApplicationName is the application_name of the gateways' change
// feed connections in pg_stat_activity.
const feedApplicationName = "keygate-feed"

// adminRequest sends a request to the gateway's admin endpoint.
func (g *gateway) adminRequest(t *testing.T, method, path string, body []byte, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, g.AdminURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("building admin request %s %s: %v", method, path, err)
	}
	for name, vals := range header {
		req.Header[name] = vals
	}
	return roundTrip(t, req)
}

// goroutines returns the gateway's goroutine count, from the profile its
// admin endpoint serves.
func (g *gateway) goroutines(t *testing.T) int {
	t.Helper()
	r := g.adminRequest(t, http.MethodGet, "/debug/pprof/goroutine?debug=1", nil, nil)
	line, _ := bufio.NewReader(bytes.NewReader(r.body)).ReadString('\n')
	var n int
	if _, err := fmt.Sscanf(line, "goroutine profile: total %d", &n); err != nil || r.status != http.StatusOK {
		t.Fatalf("goroutine profile: status %d, first line %q: %v", r.status, line, err)
	}
	return n
}

// logged reports whether the gateway's log has an entry with this message.
func (g *gateway) logged(t *testing.T, msg string) bool {
	t.Helper()
	for _, e := range g.logEntries(t) {
		if e.str("msg") == msg {
			return true
		}
	}
	return false
}

// dbConn opens a connection to the test's database, closed when the test
// ends: an operator's psql session.
func (h *harness) dbConn() *pgx.Conn {
	h.t.Helper()
	return connect(h.t, h.dbURL)
}

// connect opens a connection to databaseURL, closed when t ends.
func connect(t *testing.T, databaseURL string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		t.Fatalf("connecting to the test database: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// queryInt runs a query that returns one integer.
func queryInt(t *testing.T, conn *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// feedConnections returns how many change feed connections the database
// of conn has.
func feedConnections(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	return queryInt(t, conn, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, feedApplicationName)
}

// databaseName returns the database of databaseURL.
func databaseName(t *testing.T, databaseURL string) string {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatalf("parsing the database URL: %v", err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// refusalWatch polls one gateway with a key as fast as it answers, until
// the key is refused; the key must be allowed until then.
type refusalWatch struct {
	refusedAt time.Time // when the first 401 came back
	err       error
	done      chan struct{}
}

// watchRefusal starts polling g with key until a 401, or until timeout.
func watchRefusal(g *gateway, client *http.Client, key string, timeout time.Duration) *refusalWatch {
	w := &refusalWatch{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		deadline := time.Now().Add(timeout)
		for time.Now().Before(deadline) {
			req, err := http.NewRequest(http.MethodGet, g.URL+"/watch", nil)
			if err != nil {
				w.err = err
				return
			}
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := client.Do(req)
			if err != nil {
				w.err = err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
			case http.StatusUnauthorized:
				w.refusedAt = time.Now()
				return
			default:
				w.err = fmt.Errorf("status %d while waiting for the refusal", resp.StatusCode)
				return
			}
		}
		w.err = fmt.Errorf("still allowed after %v", timeout)
	}()
	return w
}

// wait returns when the key was refused.
func (w *refusalWatch) wait() (time.Time, error) {
	<-w.done
	return w.refusedAt, w.err
}

// percentile returns the p-th percentile (0-100) of sorted durations, by
// the nearest-rank method.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}
