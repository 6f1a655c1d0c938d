package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"
)

// gateway is a Caddy process under test: stock Caddy or keygate.
type gateway struct {
	*proc
	metricsURL string // its admin endpoint's /metrics
}

// benchEnv is everything the harness started.
type benchEnv struct {
	cfg  config
	dir  string
	db   *benchDatabase
	self string // this binary, for the helper roles

	upstream, peer *proc
	plain, keygate *gateway

	// Site URLs.
	plainURL, headerURL, forwardURL string
	staticURL, dynamicURL           string

	legit, cold createdKey
	// token is an access token of legit, from the static site's
	// keygate_token.
	token string

	// gatewayData is what the Caddyfile templates are rendered with, for
	// the scale cases' fresh gateway.
	gatewayData map[string]any
}

// ports is how many free ports the harness takes: upstream, peer, two
// admin endpoints and five sites.
const ports = 9

// setUp starts every process and waits until each serves. On error, the
// returned env (if any) holds what was started, for tearDown.
func setUp(ctx context.Context, cfg config) (*benchEnv, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	for _, bin := range []*string{&cfg.keygate, &cfg.caddy} {
		if *bin, err = absBinary(*bin); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "kgbench-")
	if err != nil {
		return nil, err
	}
	e := &benchEnv{cfg: cfg, dir: dir, self: self}
	p, err := freePorts(ports)
	if err != nil {
		return e, err
	}
	upPort, peerPort, plainAdmin, kgAdmin := p[0], p[1], p[2], p[3]
	site := func(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }
	e.plainURL, e.headerURL, e.forwardURL = site(p[4])+"/", site(p[5])+"/", site(p[6])+"/"
	e.staticURL, e.dynamicURL = site(p[7])+"/", site(p[8])+"/"

	if e.db, err = startDatabase(ctx); err != nil {
		return e, err
	}
	if e.upstream, err = e.helper(roleUpstream, upPort); err != nil {
		return e, err
	}
	if e.legit, e.cold, err = e.db.seed(ctx, cfg.keygate, site(upPort)); err != nil {
		return e, err
	}
	if e.peer, err = e.helper(roleAuthPeer, peerPort); err != nil {
		return e, err
	}
	data := map[string]any{
		"Upstream": upPort, "Peer": peerPort, "Key": e.legit.Key, "Database": e.db.url,
		"Plain": p[4], "Header": p[5], "Forward": p[6], "Static": p[7], "Dynamic": p[8],
		"MaxLookupRate": cfg.maxLookupRate,
	}
	e.gatewayData = data
	if e.plain, err = e.startGateway("plaincaddy", cfg.caddy, plainCaddyfile, plainAdmin, data, e.plainURL, e.headerURL, e.forwardURL); err != nil {
		return e, err
	}
	if e.keygate, err = e.startGateway("keygate", cfg.keygate, keygateCaddyfile, kgAdmin, data, e.staticURL, e.dynamicURL); err != nil {
		return e, err
	}
	if e.token, err = exchange(e.staticURL+"oauth/token", e.legit); err != nil {
		return e, err
	}
	return e, nil
}

// absBinary returns the absolute path of bin, which must exist.
func absBinary(bin string) (string, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("%w (make bench builds it)", err)
	}
	return abs, nil
}

// helper starts this binary in a helper role on port.
func (e *benchEnv) helper(role string, port int) (*proc, error) {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"-role", role, "-addr", addr}
	if role == roleAuthPeer {
		args = append(args, "-database", e.db.url)
	}
	p, err := startProc(e.dir, role, e.self, nil, args...)
	if err != nil {
		return nil, err
	}
	return p, p.waitHTTP("http://"+addr+"/", 30*time.Second)
}

// startGateway writes a Caddyfile and runs bin on it until every site
// answers.
func (e *benchEnv) startGateway(name, bin string, tmpl *template.Template, admin int, data map[string]any, sites ...string) (*gateway, error) {
	data = maps.Clone(data)
	data["Admin"], data["Log"] = admin, filepath.Join(e.dir, name+".json.log")
	conf, err := writeConfig(e.dir, name+".Caddyfile", tmpl, data)
	if err != nil {
		return nil, err
	}
	p, err := startProc(e.dir, name, bin, []string{"HOME=" + e.dir, "XDG_DATA_HOME=" + e.dir, "XDG_CONFIG_HOME=" + e.dir},
		"run", "--config", conf, "--adapter", "caddyfile")
	if err != nil {
		return nil, err
	}
	g := &gateway{proc: p, metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", admin)}
	for _, s := range sites {
		if err := p.waitHTTP(s, time.Minute); err != nil {
			log, _ := os.ReadFile(data["Log"].(string))
			if len(log) > 3000 {
				log = log[len(log)-3000:]
			}
			return g, fmt.Errorf("%w\n%s", err, log)
		}
	}
	return g, nil
}

// tearDown stops every process, in reverse order, and removes the
// database and, unless -keep, the working directory.
func (e *benchEnv) tearDown() {
	for _, g := range []*gateway{e.keygate, e.plain} {
		if g != nil {
			g.stop()
		}
	}
	for _, p := range []*proc{e.peer, e.upstream} {
		if p != nil {
			p.stop()
		}
	}
	if e.db != nil {
		if err := e.db.remove(); err != nil {
			fmt.Fprintf(os.Stderr, "kgbench: removing PostgreSQL: %v\n", err)
		}
	}
	if !e.cfg.keep {
		os.RemoveAll(e.dir)
	}
}

// coldStartResult is what n concurrent first requests for one key cost.
type coldStartResult struct {
	n       int
	codes   map[int]int
	lookups float64 // store lookups they caused; -1 when keygate exposes no count
	took    time.Duration
}

// coldStart sends n concurrent first requests for a key never used
// before, each on a connection of its own, and counts the store lookups
// they cost.
func (e *benchEnv) coldStart(n int) (coldStartResult, error) {
	r := coldStartResult{n: n, codes: map[int]int{}, lookups: -1}
	before, err := scrape(e.keygate.metricsURL)
	if err != nil {
		return r, err
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy: noProxy, MaxIdleConnsPerHost: n, DisableKeepAlives: true,
	}}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		start = make(chan struct{})
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, e.staticURL, nil)
			req.Header.Set("Authorization", "Bearer "+e.cold.Key)
			<-start
			code := 0
			if resp, err := client.Do(req); err == nil {
				code = resp.StatusCode
				resp.Body.Close()
			}
			mu.Lock()
			r.codes[code]++
			mu.Unlock()
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	r.took = time.Since(began)
	after, err := scrape(e.keygate.metricsURL)
	if err != nil {
		return r, err
	}
	if after.has(storeLookups) {
		r.lookups = after.sum(storeLookups) - before.sum(storeLookups)
	}
	return r, nil
}

// hold prints where everything listens and waits for SIGINT or SIGTERM:
// for trying and profiling by hand.
func (e *benchEnv) hold() {
	fmt.Printf("database  %s\nplain     %s\nheader    %s\nforward   %s\nstatic    %s\ndynamic   %s\n",
		e.db.url, e.plainURL, e.headerURL, e.forwardURL, e.staticURL, e.dynamicURL)
	fmt.Printf("admin     %s (keygate), %s (stock Caddy)\nlegit key in %s\n",
		strings.TrimSuffix(e.keygate.metricsURL, "/metrics"), strings.TrimSuffix(e.plain.metricsURL, "/metrics"),
		filepath.Join(e.dir, "plaincaddy.Caddyfile"))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}
