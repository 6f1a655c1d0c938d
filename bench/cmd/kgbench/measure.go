package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// bench runs the cases.
type bench struct {
	cfg   config
	env   *benchEnv
	cases []*benchCase

	plainRPS    float64 // plain reverse_proxy's first measurement
	floodRate   int     // the mixed cases' flood rate
	latencyRate int     // the latency phases' rate
}

// measure runs -rounds rounds of a throughput and a constant-rate latency
// phase per case, every other round in reverse order so that drift on the
// machine spreads over all cases. Each round starts and ends with plain
// reverse_proxy, and each case's ratio is taken to the mean of the two: on
// a shared machine, rounds differ more than cases within one.
func (b *bench) measure() {
	for _, c := range b.cases {
		if c.kind != kindMixed {
			closedLoop(c.tr, b.cfg.conns, b.cfg.warmup)
		}
	}
	for r := range b.cfg.rounds {
		order := slices.Clone(b.cases)
		if r%2 == 1 {
			// Reversed, but plain first still: the mixed cases' flood
			// rate comes from it.
			slices.Reverse(order[1:])
		}
		for _, c := range order {
			m := b.throughput(c)
			if b.plainRPS == 0 {
				b.plainRPS = m.res.rps
				b.floodRate = max(1, int(b.cfg.floodLoad*b.plainRPS))
				b.latencyRate = max(1, int(b.cfg.latencyLoad*b.plainRPS))
			}
			m.latency = b.latencyPhase(c, b.latencyRate)
			c.rounds = append(c.rounds, m)
		}
		plain := b.cases[0]
		end := b.throughput(plain).res.rps
		plain.baseline = append(plain.baseline, end)
		base := (plain.rounds[r].res.rps + end) / 2
		for _, c := range b.cases {
			c.rounds[r].ratio = c.rounds[r].res.rps / base
		}
	}
}

// throughput measures one closed-loop phase of c.
func (b *bench) throughput(c *benchCase) measurement {
	m := measurement{lookups: -1}
	before, errBefore := scrape(c.gw.metricsURL)
	cpu0, errCPU := c.gw.cpu()
	self0, errSelf := pidCPU(os.Getpid())
	began := time.Now()
	profiled := b.maybeProfile(c)
	if c.kind == kindMixed {
		m.res, m.flood = b.withFlood(c, b.cfg.dur, func() loadResult { return closedLoop(c.tr, b.cfg.conns, b.cfg.dur) })
	} else {
		m.res = closedLoop(c.tr, b.cfg.conns, b.cfg.dur)
	}
	if self1, err := pidCPU(os.Getpid()); err == nil && errSelf == nil {
		m.loadgen = (self1 - self0).Seconds() / time.Since(began).Seconds()
	}
	if cpu1, err := c.gw.cpu(); err == nil && errCPU == nil && m.res.requests > 0 {
		m.cpu = (cpu1 - cpu0).Seconds() / float64(m.res.requests+m.flood.requests)
	}
	if after, err := scrape(c.gw.metricsURL); err == nil && errBefore == nil && after.has(storeLookups) {
		m.lookups = after.sum(storeLookups) - before.sum(storeLookups)
	}
	if err := profiled(); err != nil {
		fmt.Fprintf(os.Stderr, "kgbench: profiling %s: %v\n", c.name, err)
	}
	return m
}

// maybeProfile starts a CPU profile of c's gateway if -profile names c
// and it has not run yet, and returns the wait for it to be written.
func (b *bench) maybeProfile(c *benchCase) func() error {
	if c.name != b.cfg.profileCase || len(c.rounds) > 0 {
		return func() error { return nil }
	}
	secs := max(1, int(b.cfg.dur.Seconds())-1)
	url := strings.TrimSuffix(c.gw.metricsURL, "/metrics") + fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs)
	done := make(chan error, 1)
	go func() { done <- fetchTo(url, b.cfg.profileOut) }()
	return func() error { return <-done }
}

// fetchTo writes what url answers to path.
func fetchTo(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d", url, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// latencyPhase measures c's latencies at a constant rate.
func (b *bench) latencyPhase(c *benchCase, rate int) loadResult {
	run := func() loadResult { return openLoop(c.tr, b.cfg.conns, rate, b.cfg.latencyDur) }
	if c.kind == kindMixed {
		res, _ := b.withFlood(c, b.cfg.latencyDur, run)
		return res
	}
	return run()
}

// withFlood runs legit while c's flood runs beside it, at the flood
// rate, on connections of its own.
func (b *bench) withFlood(c *benchCase, dur time.Duration, legit func() loadResult) (loadResult, loadResult) {
	var (
		wg    sync.WaitGroup
		flood loadResult
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		flood = openLoop(c.flood, b.cfg.conns, b.floodRate, dur+100*time.Millisecond)
	}()
	res := legit()
	wg.Wait()
	return res, flood
}

// median returns the median over c's rounds of what f picks.
func median(c *benchCase, f func(measurement) float64) float64 {
	if len(c.rounds) == 0 {
		return 0
	}
	vals := make([]float64, len(c.rounds))
	for i, m := range c.rounds {
		vals[i] = f(m)
	}
	return medianOf(vals)
}

// medianOf returns the median of vals, which it sorts.
func medianOf(vals []float64) float64 {
	if len(vals) == 0 {
		return 0
	}
	slices.Sort(vals)
	n := len(vals)
	if n%2 == 1 {
		return vals[n/2]
	}
	return (vals[n/2-1] + vals[n/2]) / 2
}

func legitRPS(m measurement) float64   { return m.res.rps }
func ratio(m measurement) float64      { return m.ratio }
func p50(m measurement) float64        { return float64(m.latency.p50) }
func p99(m measurement) float64        { return float64(m.latency.p99) }
func cpuPerReq(m measurement) float64  { return m.cpu }
func loadgenCPU(m measurement) float64 { return m.loadgen }
func lookups(m measurement) float64    { return m.lookups }
