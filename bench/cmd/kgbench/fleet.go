package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5"
)

// The fleet case (`make bench-fleet`, kgbench -fleet 3,20): N keygate
// processes on one PostgreSQL. For each N, trials of
//
//	revoke   `keys revoke --json` of a key every gateway has cached: the
//	         time from the change's commit (changed_at in keygate_changes)
//	         until the last of the N refuses it, and the confirmation time
//	         the command prints ("gateways": {"ms"});
//	cut      the same right after pg_terminate_backend of every gateway's
//	         feed listener, each connected for fleetSettle at least: the
//	         time from the terminate until the last of the N refuses the
//	         key, and the printed confirmation.
//
// A refusal is seen by one poller per gateway, a request every
// -fleet-poll on a kept-alive connection, started before the change:
// the figures include up to one poll interval. Gateways are added to the
// same store as N grows, so a larger N runs on a warm database.

// fleetCaddyfile is each fleet gateway's: the keygate app on the shared
// store, and a route that answers 200 to an accepted key.
var fleetCaddyfile = template.Must(template.New("fleet").Parse(`{
	admin off
	persist_config off
	auto_https off
	default_bind 127.0.0.1
	log {
		output file "{{.Log}}"
		format json
		level WARN
	}
	keygate {
		database "{{.Database}}"
	}
}

http://127.0.0.1:{{.Port}} {
	route {
		keygate
		respond "ok" 200
	}
}
`))

// feedListener is the application_name of a gateway's change feed
// connection (keystore/postgres.FeedApplicationName).
const feedListener = "keygate-feed"

// fleetBench is the fleet case's setting.
type fleetBench struct {
	cfg    config
	dir    string
	db     *benchDatabase
	env    []string // KEYGATE_DATABASE_URL for the command line
	gws    []*proc
	urls   []string
	client *http.Client
}

// fleetResult is one N's figures.
type fleetResult struct {
	n                int
	revoke, revokeMS []time.Duration // to refusal on all N; printed confirmation
	cut, cutMS       []time.Duration
}

// runFleet runs the fleet case for each of sizes and prints its table.
func runFleet(ctx context.Context, cfg config, sizes []int) error {
	began := time.Now()
	keygate, err := absBinary(cfg.keygate)
	if err != nil {
		return err
	}
	cfg.keygate = keygate
	dir, err := os.MkdirTemp("", "kgbench-fleet-")
	if err != nil {
		return err
	}
	if !cfg.keep {
		defer os.RemoveAll(dir)
	}
	db, err := startDatabase(ctx)
	if err != nil {
		return err
	}
	defer db.remove()
	f := &fleetBench{cfg: cfg, dir: dir, db: db, env: []string{"KEYGATE_DATABASE_URL=" + db.url},
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: noProxy, MaxIdleConnsPerHost: 4}}}
	defer f.stop()
	if _, err := runCmd(ctx, f.env, keygate, "integrations", "add", "bench", "--base-url", "http://127.0.0.1:9"); err != nil {
		return err
	}
	fmt.Printf("kgbench: fleet on PostgreSQL, %d trials per N, a poll every %s per gateway\n", cfg.fleetTrials, cfg.fleetPoll)
	var results []fleetResult
	for _, n := range sizes {
		if err := f.grow(ctx, n); err != nil {
			return err
		}
		r := fleetResult{n: n}
		for trial := range 2 * cfg.fleetTrials {
			cut := trial%2 == 1 // interleaved
			took, printed, err := f.trial(ctx, cut)
			if err != nil {
				return fmt.Errorf("N=%d, trial %d: %w", n, trial, err)
			}
			if cut {
				r.cut, r.cutMS = append(r.cut, took), append(r.cutMS, printed)
			} else {
				r.revoke, r.revokeMS = append(r.revoke, took), append(r.revokeMS, printed)
			}
		}
		results = append(results, r)
		fmt.Printf("kgbench: N=%d done (%.0fs so far)\n", n, time.Since(began).Seconds())
	}
	printFleet(os.Stdout, results)
	fmt.Printf("kgbench: done in %.1fs\n", time.Since(began).Seconds())
	return nil
}

// grow starts gateways until there are n, and waits until the fleet
// table shows n live and every one accepts requests.
func (f *fleetBench) grow(ctx context.Context, n int) error {
	for len(f.gws) < n {
		i := len(f.gws)
		port, err := freePorts(1)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("keygate-%02d", i)
		conf, err := writeConfig(f.dir, name+".Caddyfile", fleetCaddyfile, map[string]any{
			"Log": f.dir + "/" + name + ".json.log", "Database": f.db.url, "Port": port[0]})
		if err != nil {
			return err
		}
		p, err := startProc(f.dir, name, f.cfg.keygate, []string{"HOME=" + f.dir, "XDG_DATA_HOME=" + f.dir, "XDG_CONFIG_HOME=" + f.dir},
			"run", "--config", conf, "--adapter", "caddyfile")
		if err != nil {
			return err
		}
		f.gws = append(f.gws, p)
		url := "http://127.0.0.1:" + strconv.Itoa(port[0]) + "/"
		f.urls = append(f.urls, url)
		if err := p.waitHTTP(url, time.Minute); err != nil {
			return err
		}
	}
	return f.awaitFleet(ctx, n, time.Minute)
}

// awaitFleet waits until the fleet table shows n live gateways and every
// feed listener is connected.
func (f *fleetBench) awaitFleet(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		live, listeners, err := f.fleetState(ctx)
		if err == nil && live == n && listeners == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %d live gateways and %d feed listeners, want %d (%v)", timeout, live, listeners, n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fleetState counts the live gateways (as `gateways list` does) and the
// connected feed listeners.
func (f *fleetBench) fleetState(ctx context.Context) (live, listeners int, err error) {
	err = f.withConn(ctx, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM keygate_gateways
			  WHERE now() - last_seen_at < make_interval(secs => stale_ttl_ms / 1000.0 + 1)),
			(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1)`,
			feedListener).Scan(&live, &listeners)
	})
	return live, listeners, err
}

// fleetSettle is how long every feed listener has been connected before
// a cut: above the follower's longest backoff, 1s.
const fleetSettle = 1500 * time.Millisecond

// awaitSettled waits until every feed listener has been connected for
// at least d.
func (f *fleetBench) awaitSettled(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(time.Minute)
	for {
		var young int
		err := f.withConn(ctx, func(conn *pgx.Conn) error {
			return conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND application_name = $1 AND now() - backend_start < $2`,
				feedListener, d).Scan(&young)
		})
		if err == nil && young == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("feed listeners not settled after a minute: %d connected for less than %s (%v)", young, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// withConn runs fn on a connection of its own to the store.
func (f *fleetBench) withConn(ctx context.Context, fn func(*pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, f.db.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return fn(conn)
}

// trial creates a key, has every gateway cache it, then revokes it with
// the command line (after cutting every feed listener, with cut) while
// one poller per gateway waits for the refusal. It returns the time from
// the commit (or the cut) until the last gateway refused, and the
// confirmation time the command printed.
func (f *fleetBench) trial(ctx context.Context, cut bool) (took, printed time.Duration, err error) {
	n := len(f.gws)
	if err := f.awaitFleet(ctx, n, time.Minute); err != nil {
		return 0, 0, err
	}
	out, err := runCmd(ctx, f.env, f.cfg.keygate, "keys", "create", "--integration", "bench", "--name", "fleet", "--json")
	if err != nil {
		return 0, 0, err
	}
	var k createdKey
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		return 0, 0, fmt.Errorf("reading keys create's output: %w", err)
	}
	for i, u := range f.urls {
		if code := f.get(u, k.Key); code != http.StatusOK {
			return 0, 0, fmt.Errorf("gateway %d answered %d to a new key, want 200", i, code)
		}
	}
	if cut {
		// A listener cut soon after it connected backs off before it
		// reconnects (keystore/postgres's follower): time one cut of a
		// connection that lasted, not a flapping one.
		if err := f.awaitSettled(ctx, fleetSettle); err != nil {
			return 0, 0, err
		}
	}
	refused := f.watch(k.Key)
	var start time.Time
	if cut {
		start = time.Now()
		var killed int
		if err := f.withConn(ctx, func(conn *pgx.Conn) error {
			return conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE datname = current_database() AND application_name = $1`, feedListener).Scan(&killed)
		}); err != nil {
			return 0, 0, fmt.Errorf("terminating the feed listeners: %w", err)
		}
		if killed != n {
			return 0, 0, fmt.Errorf("terminated %d feed listeners, want %d", killed, n)
		}
	}
	out, err = runCmd(ctx, f.env, f.cfg.keygate, "keys", "revoke", k.ID, "--json", "--wait", "30s")
	if err != nil {
		return 0, 0, err
	}
	var revoked struct {
		Gateways struct {
			Live, Confirmed int
			MS              int64
		} `json:"gateways"`
	}
	if err := json.Unmarshal([]byte(out), &revoked); err != nil {
		return 0, 0, fmt.Errorf("reading keys revoke's output: %w", err)
	}
	if g := revoked.Gateways; g.Live != n || g.Confirmed != n {
		return 0, 0, fmt.Errorf("keys revoke confirmed %d/%d, want %d/%d", g.Confirmed, g.Live, n, n)
	}
	last, err := refused()
	if err != nil {
		return 0, 0, err
	}
	if !cut {
		if err := f.withConn(ctx, func(conn *pgx.Conn) error {
			return conn.QueryRow(ctx, `SELECT changed_at FROM keygate_changes WHERE key_id = $1 ORDER BY seq DESC LIMIT 1`,
				k.ID).Scan(&start)
		}); err != nil {
			return 0, 0, fmt.Errorf("reading the revocation's commit time: %w", err)
		}
	}
	return last.Sub(start), time.Duration(revoked.Gateways.MS) * time.Millisecond, nil
}

// watch starts one poller per gateway that requests with key every
// -fleet-poll until it is refused; the function it returns waits for all
// and returns when the last was refused.
func (f *fleetBench) watch(key string) func() (time.Time, error) {
	var wg sync.WaitGroup
	times := make([]time.Time, len(f.urls))
	errs := make([]error, len(f.urls))
	deadline := time.Now().Add(time.Minute)
	for i, u := range f.urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				switch code := f.get(u, key); code {
				case http.StatusOK:
					time.Sleep(f.cfg.fleetPoll)
					continue
				case http.StatusUnauthorized:
					times[i] = time.Now()
				default:
					errs[i] = fmt.Errorf("gateway %d answered %d, want 200 then 401", i, code)
				}
				return
			}
			errs[i] = fmt.Errorf("gateway %d still accepts the revoked key after a minute", i)
		}()
	}
	return func() (time.Time, error) {
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return time.Time{}, err
			}
		}
		return slices.MaxFunc(times, time.Time.Compare), nil
	}
}

// get requests url with key and returns the status, 0 on error.
func (f *fleetBench) get(url, key string) int {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := f.client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// stop stops every gateway, all at once.
func (f *fleetBench) stop() {
	var wg sync.WaitGroup
	for _, p := range f.gws {
		wg.Go(p.stop)
	}
	wg.Wait()
}

// printFleet writes the fleet table: percentiles over the trials, and
// each p50 as a ratio to the smallest N's.
func printFleet(out io.Writer, results []fleetResult) {
	if len(results) == 0 {
		return
	}
	fmt.Fprintf(out, "\n%s, %d cores; every gateway, the database and this harness share them\n", cpuModel(), runtime.NumCPU())
	fmt.Fprintln(out, "revoke: commit (changed_at) until the last gateway refuses; cut: pg_terminate_backend of every feed listener, then the same revoke, timed from the terminate")
	fmt.Fprintln(out, "printed: the confirmation time keys revoke prints (gateways.ms); ratio: p50 over the first N's")
	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "N\tcase\ttrials\tp50\tp95\tmax\tratio\t")
	base := results[0]
	for _, r := range results {
		for _, row := range []struct {
			name     string
			vals, of []time.Duration
		}{
			{"revoke → refused by all", r.revoke, base.revoke},
			{"revoke, printed", r.revokeMS, base.revokeMS},
			{"cut + revoke → refused by all", r.cut, base.cut},
			{"cut + revoke, printed", r.cutMS, base.cutMS},
		} {
			s := sortedCopy(row.vals)
			fmt.Fprintf(w, "%d\t%s\t%d\t%s\t%s\t%s\t%.2f\t\n", r.n, row.name, len(s),
				ms(pct(s, 50)), ms(pct(s, 95)), ms(s[len(s)-1]), ratioOf(pct(s, 50), pct(sortedCopy(row.of), 50)))
		}
	}
	w.Flush()
}

func sortedCopy(d []time.Duration) []time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s
}

// pct is the p-th percentile of sorted, nearest rank.
func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}

func ratioOf(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// parseSizes reads -fleet's comma-separated list of N.
func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("invalid -fleet %q: want gateway counts such as 3,20", s)
		}
		sizes = append(sizes, n)
	}
	if !slices.IsSorted(sizes) {
		return nil, fmt.Errorf("invalid -fleet %q: want the counts in increasing order", s)
	}
	return sizes, nil
}
