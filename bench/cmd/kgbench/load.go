package main

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/keygate/keygate/keystore"
)

// loadResult is what one attack measured.
type loadResult struct {
	requests uint64
	rps      float64 // responses per second, whatever their status
	p50, p99 time.Duration
	codes    map[string]int
	errors   []string
}

// codesString sums the status codes up: "200", or "429 96% 401 4%".
func (r loadResult) codesString() string {
	type kv struct {
		code string
		n    int
	}
	var all []kv
	for c, n := range r.codes {
		all = append(all, kv{c, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	if len(all) == 1 {
		return all[0].code
	}
	var parts []string
	for _, e := range all {
		parts = append(parts, fmt.Sprintf("%s %.0f%%", e.code, 100*float64(e.n)/float64(r.requests)))
	}
	return strings.Join(parts, " ")
}

// noProxy keeps loopback traffic off any proxy of the environment.
func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// attacker returns a vegeta attacker on conns keep-alive HTTP/1.1
// connections, with up to maxWorkers requests in flight.
func attacker(conns int, maxWorkers uint64) *vegeta.Attacker {
	return vegeta.NewAttacker(
		vegeta.Workers(uint64(conns)), vegeta.MaxWorkers(maxWorkers),
		vegeta.Connections(conns), vegeta.MaxConnections(conns),
		vegeta.KeepAlive(true), vegeta.HTTP2(false),
		vegeta.Timeout(5*time.Second), vegeta.MaxBody(4096),
		vegeta.Redirects(vegeta.NoFollow), vegeta.Proxy(noProxy))
}

// closedLoop sends requests as fast as conns workers get answers, each on
// its own connection: the throughput measurement. Its latencies are those
// of a saturated server, not the ones a client sees at a given rate.
func closedLoop(tr vegeta.Targeter, conns int, dur time.Duration) loadResult {
	return attack(attacker(conns, uint64(conns)), tr, vegeta.Rate{}, dur)
}

// openLoop sends requests at a constant rate, whatever the answers take,
// over at most conns connections: the latency measurement, free of
// coordinated omission (a late answer delays no later request's start).
func openLoop(tr vegeta.Targeter, conns, rate int, dur time.Duration) loadResult {
	return attack(attacker(conns, 4096), tr, vegeta.Rate{Freq: rate, Per: time.Second}, dur)
}

func attack(a *vegeta.Attacker, tr vegeta.Targeter, rate vegeta.Rate, dur time.Duration) loadResult {
	var m vegeta.Metrics
	for res := range a.Attack(tr, rate, dur, "") {
		m.Add(res)
	}
	m.Close()
	r := loadResult{requests: m.Requests, codes: m.StatusCodes, errors: m.Errors,
		p50: m.Latencies.P50, p99: m.Latencies.P99}
	if elapsed := (m.Duration + m.Wait).Seconds(); elapsed > 0 {
		r.rps = float64(m.Requests) / elapsed
	}
	return r
}

// staticTargeter sends the same request every time.
func staticTargeter(u string, hdr http.Header) vegeta.Targeter {
	return vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: u, Header: hdr})
}

// rotatingTargeter sends each request with the next of headers, round
// robin.
func rotatingTargeter(u string, headers []http.Header) vegeta.Targeter {
	var n atomic.Uint64
	return func(t *vegeta.Target) error {
		i := n.Add(1)
		t.Method, t.URL, t.Header = http.MethodGet, u, headers[i%uint64(len(headers))]
		return nil
	}
}

// benchIP returns the i-th address of 198.18.0.0/15, the range RFC 2544
// sets aside for benchmarks: the floods' client IPs, sent in
// X-Forwarded-For.
func benchIP(i int) string {
	return fmt.Sprintf("198.%d.%d.%d", 18+(i>>16)&1, (i>>8)&255, i&255)
}

// floodHeaders returns n requests' headers: a bearer key from key(i) and a
// client IP, one of ips addresses.
func floodHeaders(n, ips int, key func(i int) string) []http.Header {
	hs := make([]http.Header, n)
	for i := range hs {
		hs[i] = http.Header{
			"Authorization":   {"Bearer " + key(i)},
			"X-Forwarded-For": {benchIP(i % ips)},
		}
	}
	return hs
}

// unknownKeys returns n well-formed keys that no store holds: an attacker
// can compute the checksum.
func unknownKeys(n int) ([]string, error) {
	keys := make([]string, n)
	for i := range keys {
		k, _, err := keystore.GenerateKey(nil, keystore.DefaultPrefix)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	return keys, nil
}

// malformed returns key with its last checksum character changed.
func malformed(key string) string {
	last := key[len(key)-1]
	swap := byte('A')
	if last == 'A' {
		swap = 'B'
	}
	return key[:len(key)-1] + string(swap)
}
