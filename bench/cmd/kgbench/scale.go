package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/verify"
)

// The scale cases, after the table: whether a lookup costs the same in
// front of a store of 1,000 keys and of -scale-keys keys (cache hits and
// cold lookups, each key asked for once), the gateway's RSS beside its
// cache budget, and how soon a freshly started gateway in front of
// restartKeys active keys is back to its warmed throughput.

const (
	smallStoreKeys = 1000   // the store the large one is compared with
	restartKeys    = 10_000 // the active keys the restarted gateway meets
	coldSample     = 1000   // keys asked for once in each cold-lookup phase
	restartBin     = 250 * time.Millisecond
	restartLimit   = 30 * time.Second // give up on the restart after this
	restartSettled = 3 * time.Second  // keep going this long after every key was asked for once
)

// scalePoint is what was measured in front of a store of keys keys.
type scalePoint struct {
	keys        int
	plainRPS    float64 // plain reverse_proxy, just before: drift on the machine
	hitRPS      float64 // the legit key, cached, closed loop
	coldRPS     float64 // keys asked for once each: one lookup per request
	coldN       int     // answers with 200 in the cold phase
	coldLookups float64 // store lookups of the cold phase; -1 unknown
	rss         int64   // keygate's, after both phases
}

// restartResult is a fresh gateway's way back to its warmed throughput.
type restartResult struct {
	keys     int
	startup  time.Duration // process start to its sites answering
	warmRPS  float64       // the same traffic once every key is cached
	reached  time.Duration // first 0.9 of warmRPS, sustained for two bins; -1 never
	firstRPS float64       // req/s in the first second
	ran      time.Duration
}

// scaleResult is every scale case.
type scaleResult struct {
	small, large scalePoint // large.keys 0: not run (no -scale)
	loadTook     time.Duration
	restart      restartResult
}

// scale runs the scale cases on the bench store, which holds the seed's
// keys: it grows to smallStoreKeys, then restartKeys, then, with -scale,
// cfg.scaleKeys.
func (e *benchEnv) scale(ctx context.Context) (scaleResult, error) {
	var r scaleResult
	// Keys from a seeded generator: the runs load the same store.
	rng := rand.NewChaCha8([32]byte{'k', 'g', 'b', 'e', 'n', 'c', 'h'})

	small, _, err := e.db.loadKeys(ctx, rng, smallStoreKeys, smallStoreKeys)
	if err != nil {
		return r, err
	}
	if r.small, err = e.scalePoint(small[:min(coldSample, len(small))]); err != nil {
		return r, err
	}

	// The restarted gateway meets the small store's keys and more, all
	// new to it.
	more, _, err := e.db.loadKeys(ctx, rng, restartKeys-len(small), restartKeys)
	if err != nil {
		return r, err
	}
	if r.restart, err = e.restartCase(append(small, more...)); err != nil {
		return r, err
	}

	if e.cfg.scale {
		total, err := e.db.countKeys(ctx)
		if err != nil {
			return r, err
		}
		began := time.Now()
		fresh, _, err := e.db.loadKeys(ctx, rng, max(0, e.cfg.scaleKeys-total), coldSample)
		if err != nil {
			return r, err
		}
		r.loadTook = time.Since(began)
		if r.large, err = e.scalePoint(fresh); err != nil {
			return r, err
		}
	}
	return r, nil
}

// scalePoint measures keygate's cache hits and cold lookups (each of keys
// asked for once) against the store as it is now.
func (e *benchEnv) scalePoint(keys []string) (scalePoint, error) {
	n, err := e.db.countKeys(context.Background())
	if err != nil {
		return scalePoint{}, err
	}
	p := scalePoint{keys: n, coldLookups: -1}
	legit := http.Header{"Authorization": {"Bearer " + e.legit.Key}}
	hit := staticTargeter(e.staticURL, legit)
	closedLoop(hit, e.cfg.conns, e.cfg.warmup)
	p.plainRPS = closedLoop(staticTargeter(e.plainURL, legit), e.cfg.conns, e.cfg.dur).rps
	p.hitRPS = closedLoop(hit, e.cfg.conns, e.cfg.dur).rps

	before, errBefore := scrape(e.keygate.metricsURL)
	start := time.Now()
	var last time.Time
	eachResult(finiteTargeter(e.staticURL, bearers(keys)), e.cfg.conns, time.Minute, func(res *vegeta.Result) bool {
		if res.Error == "" && res.Code == http.StatusOK {
			p.coldN++
			last = maxTime(last, res.Timestamp.Add(res.Latency))
		}
		return false
	})
	if el := last.Sub(start).Seconds(); el > 0 {
		p.coldRPS = float64(p.coldN) / el
	}
	if after, err := scrape(e.keygate.metricsURL); err == nil && errBefore == nil && after.has(storeLookups) {
		p.coldLookups = after.sum(storeLookups) - before.sum(storeLookups)
	}
	p.rss = e.keygate.rss()
	return p, nil
}

// restartCase starts a fresh keygate on the bench store and drives
// traffic round robin over keys, as fast as answers come, until every key
// was asked for and restartSettled more; then measures the same traffic
// warmed, and finds when the fresh gateway first reached 0.9 of it.
func (e *benchEnv) restartCase(keys []string) (restartResult, error) {
	r := restartResult{keys: len(keys), reached: -1}
	p, err := freePorts(3)
	if err != nil {
		return r, err
	}
	data := maps.Clone(e.gatewayData)
	data["Static"], data["Dynamic"] = p[1], p[2]
	static := "http://127.0.0.1:" + strconv.Itoa(p[1]) + "/"
	began := time.Now()
	g, err := e.startGateway("keygate-restarted", e.cfg.keygate, keygateCaddyfile, p[0], data,
		static, "http://127.0.0.1:"+strconv.Itoa(p[2])+"/")
	if g != nil {
		defer g.stop()
	}
	if err != nil {
		return r, err
	}
	r.startup = time.Since(began)

	tr := rotatingTargeter(static, bearers(keys))
	var (
		bins    []int // answers with 200, by the restartBin they ended in
		asked   int
		allSeen time.Duration = -1
	)
	start := time.Now()
	eachResult(tr, e.cfg.conns, restartLimit, func(res *vegeta.Result) bool {
		if res.Error == "" && res.Code == http.StatusOK {
			i := int(res.Timestamp.Add(res.Latency).Sub(start) / restartBin)
			for len(bins) <= i {
				bins = append(bins, 0)
			}
			bins[max(i, 0)]++
		}
		asked++
		if asked >= len(keys) && allSeen < 0 {
			allSeen = time.Since(start)
		}
		return allSeen >= 0 && time.Since(start) > allSeen+restartSettled
	})
	r.ran = time.Since(start)
	r.warmRPS = closedLoop(tr, e.cfg.conns, e.cfg.dur).rps

	if len(bins) > 1 {
		bins = bins[:len(bins)-1] // the last one is partial
	}
	perBin := 0.9 * r.warmRPS * restartBin.Seconds()
	for i := range bins {
		if float64(bins[i]) >= perBin && (i+1 == len(bins) || float64(bins[i+1]) >= perBin) {
			r.reached = time.Duration(i+1) * restartBin
			break
		}
	}
	first := 0
	for i := 0; i < len(bins) && time.Duration(i+1)*restartBin <= time.Second; i++ {
		first += bins[i]
	}
	r.firstRPS = float64(first)
	return r, nil
}

// eachResult sends tr's requests as fast as conns workers get answers,
// for at most dur or until tr runs out, handing each answer to each,
// which stops the attack by returning true.
func eachResult(tr vegeta.Targeter, conns int, dur time.Duration, each func(*vegeta.Result) (stop bool)) {
	a := attacker(conns, uint64(conns))
	for res := range a.Attack(tr, vegeta.Rate{}, dur, "") {
		if each(res) {
			a.Stop()
		}
	}
}

// finiteTargeter sends each of headers once, then stops the attack.
func finiteTargeter(u string, headers []http.Header) vegeta.Targeter {
	next := make(chan http.Header, len(headers))
	for _, h := range headers {
		next <- h
	}
	close(next)
	return func(t *vegeta.Target) error {
		h, ok := <-next
		if !ok {
			return vegeta.ErrNoTargets
		}
		t.Method, t.URL, t.Header = http.MethodGet, u, h
		return nil
	}
}

// bearers returns each key's Authorization header.
func bearers(keys []string) []http.Header {
	hs := make([]http.Header, len(keys))
	for i, k := range keys {
		hs[i] = http.Header{"Authorization": {"Bearer " + k}}
	}
	return hs
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// loadKeys adds n generated keys of the bench integration to the store
// with one COPY (only their hashes are stored, as keygate stores them) and
// returns the first keep of them. The session skips the change feed's
// triggers (session_replication_role = replica; the harness's user is the
// cluster's superuser): a bulk load is no change a running gateway must
// hear of, and a million notifications would measure the feed, not
// lookups.
func (db *benchDatabase) loadKeys(ctx context.Context, rng io.Reader, n, keep int) ([]string, time.Duration, error) {
	began := time.Now()
	conn, err := pgx.Connect(ctx, db.url)
	if err != nil {
		return nil, 0, fmt.Errorf("loading keys: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		return nil, 0, fmt.Errorf("loading keys: %w", err)
	}
	kept := make([]string, 0, min(n, keep))
	i := 0
	rows := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		i++
		key, hash, err := keystore.GenerateKey(rng, keystore.DefaultPrefix)
		if err != nil {
			return nil, err
		}
		id, err := keystore.NewKeyID(rng)
		if err != nil {
			return nil, err
		}
		if len(kept) < keep {
			kept = append(kept, key)
		}
		return []any{id, "bench", "scale", hash[:]}, nil
	})
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"keygate_keys"},
		[]string{"id", "integration_id", "name", "key_hash"}, rows); err != nil {
		return nil, 0, fmt.Errorf("loading %d keys: %w", n, err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE keygate_keys"); err != nil {
		return nil, 0, fmt.Errorf("loading keys: %w", err)
	}
	return kept, time.Since(began), nil
}

// countKeys returns how many keys the store holds.
func (db *benchDatabase) countKeys(ctx context.Context) (int, error) {
	conn, err := pgx.Connect(ctx, db.url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int
	err = conn.QueryRow(ctx, "SELECT count(*) FROM keygate_keys").Scan(&n)
	return n, err
}

// printScale writes the scale cases' results.
func printScale(out io.Writer, r scaleResult, cfg config) {
	fmt.Fprintf(out, "\nscale: keygate in front of a growing store; cold = each of %d keys asked for once (one store lookup each); cache budget cache_size %d MiB (default)\n\n",
		coldSample, verify.DefaultCacheBytes>>20)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "store keys\tplain req/s\thit req/s\t(of plain)\tcold req/s\t(of plain)\tcold 200s\tlookups\tkeygate RSS\t")
	for _, p := range []scalePoint{r.small, r.large} {
		if p.keys == 0 {
			continue
		}
		fmt.Fprintf(w, "%d\t%.0f\t%.0f\t%.2f\t%.0f\t%.2f\t%d\t%s\t%d MiB\t\n", p.keys, p.plainRPS, p.hitRPS, p.hitRPS/p.plainRPS,
			p.coldRPS, p.coldRPS/p.plainRPS, p.coldN, count(p.coldLookups), p.rss>>20)
	}
	w.Flush()
	if r.large.keys == 0 {
		fmt.Fprintf(out, "  (the %d-key store: make bench BENCHFLAGS=-scale)\n", cfg.scaleKeys)
	} else {
		fmt.Fprintf(out, "  bulk load to %d keys took %.1fs\n", r.large.keys, r.loadTook.Seconds())
		// Each over plain reverse_proxy measured just before it, so that
		// the machine's drift between the two points cancels out.
		hit := (r.large.hitRPS / r.large.plainRPS) / (r.small.hitRPS / r.small.plainRPS)
		cold := (r.large.coldRPS / r.large.plainRPS) / (r.small.coldRPS / r.small.plainRPS)
		fmt.Fprintf(out, "  ratios below: %d keys over %d keys, each as a fraction of plain reverse_proxy just before it\n", r.large.keys, r.small.keys)
		target(out, fmt.Sprintf("lookup cost flat: hits at %d keys over %d keys ≥ 0.9", r.large.keys, r.small.keys), hit >= 0.9, fmt.Sprintf("%.2f", hit))
		target(out, fmt.Sprintf("lookup cost flat: cold lookups at %d keys over %d keys ≥ 0.9", r.large.keys, r.small.keys), cold >= 0.9, fmt.Sprintf("%.2f", cold))
		target(out, fmt.Sprintf("RSS within cache budget + 128 MiB at %d keys", r.large.keys),
			r.large.rss <= verify.DefaultCacheBytes+128<<20, fmt.Sprintf("%d MiB", r.large.rss>>20))
	}
	rr := r.restart
	fmt.Fprintf(out, "\nrestart: a fresh keygate (answering %.1fs after exec) driven round robin over %d active keys it has never seen, %d connections\n",
		rr.startup.Seconds(), rr.keys, cfg.conns)
	fmt.Fprintf(out, "  first second %.0f req/s; warmed %.0f req/s (ratio %.2f); ran %.1fs\n",
		rr.firstRPS, rr.warmRPS, rr.firstRPS/max(rr.warmRPS, 1), rr.ran.Seconds())
	reached := "never"
	if rr.reached >= 0 {
		reached = fmt.Sprintf("%.2fs", rr.reached.Seconds())
	}
	target(out, fmt.Sprintf("restart in front of %d active keys: ≥ 0.9 of warmed within seconds (≤ 10s)", rr.keys),
		rr.reached >= 0 && rr.reached <= 10*time.Second, reached)
}
