package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// print writes the results table, the targets and the cold start.
func (b *bench) print(out io.Writer, cold coldStartResult) {
	unflooded := b.find("keygate hit, static")
	peer := b.find("forward_auth peer")

	fmt.Fprintf(out, "\n%s, %d cores (nproc %d); %d connections, keep-alive; vegeta\n",
		cpuModel(), runtime.NumCPU(), runtime.NumCPU(), b.cfg.conns)
	fmt.Fprintf(out, "req/s: closed loop, %s per round; p50/p99: constant %d req/s (%.0f%% of plain) for %s per round; medians of %d rounds\n",
		b.cfg.dur, b.latencyRate, 100*b.cfg.latencyLoad, b.cfg.latencyDur, b.cfg.rounds)
	fmt.Fprintf(out, "mixed: legit traffic on %d connections beside a flood at a constant %d req/s (%.0f%% of plain)\n",
		b.cfg.conns, b.floodRate, 100*b.cfg.floodLoad)
	fmt.Fprintf(out, "ratio: req/s over plain reverse_proxy's in the same round (each round starts and ends with it), median of the rounds\n")
	fmt.Fprintf(out, "gw CPU/req: the Caddy process's CPU per request; loadgen: this harness's CPU, in cores of the %d (it competes)\n\n",
		runtime.NumCPU())

	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "case\treq/s\tratio\tp50\tp99\tgw CPU/req\tloadgen\tlookups\tstatus\t\tnote\t")
	for _, c := range b.cases {
		rps := median(c, legitRPS)
		last := c.rounds[len(c.rounds)-1]
		note := c.note
		if c.kind == kindMixed {
			note = fmt.Sprintf("%.2f of unflooded; flood %s", relative(c, unflooded), last.flood.codesString())
		}
		fmt.Fprintf(w, "%s\t%.0f\t%.2f\t%s\t%s\t%s\t%.2f\t%s\t%s\t\t%s\t\n", c.name, rps, median(c, ratio),
			ms(time.Duration(median(c, p50))), ms(time.Duration(median(c, p99))), us(median(c, cpuPerReq)),
			median(c, loadgenCPU), count(median(c, lookups)),
			last.res.codesString(), note)
	}
	w.Flush()

	fmt.Fprintf(out, "\nreq/s (ratio) by round:")
	for _, c := range b.cases {
		fmt.Fprintf(out, "\n  %-30s", c.name)
		for _, m := range c.rounds {
			fmt.Fprintf(out, " %7.0f (%.2f)", m.res.rps, m.ratio)
		}
	}
	fmt.Fprintf(out, "\n  %-30s", "plain reverse_proxy, at end")
	for _, rps := range b.cases[0].baseline {
		fmt.Fprintf(out, " %7.0f", rps)
	}
	fmt.Fprintln(out)

	hit := b.find("keygate hit, static")
	dyn := b.find("keygate hit, dynamic")
	fmt.Fprintln(out, "\ntargets:")
	for _, c := range []*benchCase{hit, dyn} {
		r := median(c, ratio)
		target(out, c.name+" ≥ 0.97 of plain", r >= 0.97, fmt.Sprintf("%.2f", r))
		mine, base := median(c, p99), median(b.cases[0], p99)
		target(out, c.name+" p99 within 10% of plain", mine <= base*1.1,
			fmt.Sprintf("%s vs %s", ms(time.Duration(mine)), ms(time.Duration(base))))
		target(out, c.name+" ≥ 2.2× forward_auth", relative(c, peer) >= 2.2, fmt.Sprintf("%.2f×", relative(c, peer)))
	}
	mal := b.find("malformed-key flood")
	target(out, "malformed flood ≥ 0.95 of plain", median(mal, ratio) >= 0.95, fmt.Sprintf("%.2f", median(mal, ratio)))
	target(out, "malformed flood: no store lookup", median(mal, lookups) == 0, count(median(mal, lookups)))
	for _, name := range []string{"mixed: hit + flood, 1 IP", "mixed: hit + flood, many IPs"} {
		r := relative(b.find(name), unflooded)
		target(out, name+" ≥ 0.8 of unflooded", r >= 0.8, fmt.Sprintf("%.2f", r))
	}
	target(out, fmt.Sprintf("cold start: %d concurrent first requests cost 1 store lookup", cold.n),
		cold.lookups == 1, fmt.Sprintf("%s lookups, statuses %v, in %s", count(cold.lookups), cold.codes, cold.took.Round(time.Millisecond)))

	fmt.Fprintf(out, "\nRSS at the end: keygate %d MiB, stock Caddy %d MiB\n", b.env.keygate.rss()>>20, b.env.plain.rss()>>20)
}

// relative is the median over rounds of c's req/s over base's in the
// same round.
func relative(c, base *benchCase) float64 {
	vals := make([]float64, 0, len(c.rounds))
	for i := range min(len(c.rounds), len(base.rounds)) {
		vals = append(vals, c.rounds[i].res.rps/base.rounds[i].res.rps)
	}
	return medianOf(vals)
}

func (b *bench) find(name string) *benchCase {
	for _, c := range b.cases {
		if c.name == name {
			return c
		}
	}
	panic("no case " + name)
}

func target(out io.Writer, what string, ok bool, got string) {
	mark := "met    "
	if !ok {
		mark = "NOT MET"
	}
	fmt.Fprintf(out, "  %s  %s: %s\n", mark, what, got)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }

func us(sec float64) string {
	if sec == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fµs", sec*1e6)
}

func count(n float64) string {
	if n < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", n)
}

// cpuModel returns /proc/cpuinfo's model name.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
