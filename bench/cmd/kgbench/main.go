// Command kgbench is keygate's benchmark harness, run by `make bench`.
//
// On 127.0.0.1 only, it starts a throwaway PostgreSQL cluster, a trivial
// upstream and a forward_auth peer (this binary in other roles), stock
// Caddy (../plaincaddy, the same Caddy version and Go toolchain as
// keygate) and keygate, then drives each case in turn with vegeta on 32
// keep-alive connections and prints one table.
//
// req/s is measured closed-loop (32 workers, as fast as answers come);
// p50 and p99 open-loop at one constant rate for every case
// (-latency-load times plain reverse_proxy's req/s), so that a slow answer
// cannot hide the requests queued behind it; medians of -rounds
// interleaved rounds are shown. Ratios within one run are what to compare:
// absolute figures drift on shared machines.
//
// After the table come the scale cases (scale.go): hits and cold lookups
// in front of a store of 1,000 keys and, with -scale, of a million
// (bulk-loaded with COPY in about half a minute, hence optional), with
// keygate's RSS; and a fresh keygate started in front of 10,000 active
// keys, timed back to 0.9 of its warmed throughput.
//
// With -fleet, it runs the fleet case instead (fleet.go): N keygate
// processes on one PostgreSQL, timed from a revocation's commit to its
// refusal by all N, and through a cut of every feed listener.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

// config is the harness's command line.
type config struct {
	keygate, caddy  string
	dur, latencyDur time.Duration
	warmup          time.Duration
	rounds, conns   int
	latencyLoad     float64
	floodLoad       float64
	keep            bool
	hold            bool
	profileCase     string
	profileOut      string
	scale           bool
	scaleKeys       int
	maxLookupRate   string
	fleet           string
	fleetTrials     int
	fleetPoll       time.Duration
}

func main() {
	var cfg config
	role := flag.String("role", "", "internal: serve a helper role (upstream, authpeer) instead of benchmarking")
	addr := flag.String("addr", "", "internal: the helper role's listen address")
	database := flag.String("database", "", "internal: the auth peer's database URL")
	flag.StringVar(&cfg.keygate, "keygate", "bin/keygate", "the keygate binary")
	flag.StringVar(&cfg.caddy, "caddy", "bin/plaincaddy", "the stock Caddy binary")
	flag.DurationVar(&cfg.dur, "duration", 2*time.Second, "length of each throughput phase")
	flag.DurationVar(&cfg.latencyDur, "latency-duration", time.Second, "length of each constant-rate latency phase")
	flag.DurationVar(&cfg.warmup, "warmup", 500*time.Millisecond, "warm-up of each case before it is measured")
	flag.IntVar(&cfg.rounds, "rounds", 3, "interleaved rounds; medians are shown")
	flag.IntVar(&cfg.conns, "conns", 32, "keep-alive connections of each load")
	flag.Float64Var(&cfg.latencyLoad, "latency-load", 0.35, "rate of the latency phases, as a fraction of plain reverse_proxy's req/s")
	flag.Float64Var(&cfg.floodLoad, "flood-load", 0.5, "rate of the flood beside legit traffic, as a fraction of plain reverse_proxy's req/s")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the working directory (configs and logs) for inspection")
	flag.BoolVar(&cfg.hold, "hold", false, "set up, print the addresses, and wait for a signal instead of benchmarking")
	flag.StringVar(&cfg.profileCase, "profile", "", "take a CPU profile of the gateway during the first round of this case (name as in the table)")
	flag.StringVar(&cfg.profileOut, "profile-out", "kgbench.cpu.prof", "where -profile writes the profile")
	flag.BoolVar(&cfg.scale, "scale", false, "also bulk-load the store to -scale-keys keys and measure hits, cold lookups and RSS in front of it (adds about a minute)")
	flag.IntVar(&cfg.scaleKeys, "scale-keys", 1_000_000, "the store's size for -scale")
	flag.StringVar(&cfg.maxLookupRate, "max-lookup-rate", "", "keygate's max_lookup_rate (a number, or off); default keygate's")
	flag.StringVar(&cfg.fleet, "fleet", "", "run the fleet case only (fleet.go), with these gateway counts, such as 3,20")
	flag.IntVar(&cfg.fleetTrials, "fleet-trials", 20, "revocations per gateway count and case of -fleet")
	flag.DurationVar(&cfg.fleetPoll, "fleet-poll", time.Millisecond, "how often each poller of -fleet asks its gateway")
	flag.Parse()

	if *role != "" {
		if err := runRole(*role, *addr, *database); err != nil {
			fmt.Fprintf(os.Stderr, "kgbench %s: %v\n", *role, err)
			os.Exit(1)
		}
		return
	}
	if cfg.fleet != "" {
		sizes, err := parseSizes(cfg.fleet)
		if err == nil {
			err = runFleet(context.Background(), cfg, sizes)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "kgbench: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if err := run(context.Background(), cfg); err != nil {
		fmt.Fprintf(os.Stderr, "kgbench: %v\n", err)
		os.Exit(1)
	}
}

// run sets everything up, benchmarks, prints, and tears down.
func run(ctx context.Context, cfg config) error {
	began := time.Now()
	env, err := setUp(ctx, cfg)
	if env != nil {
		defer env.tearDown()
	}
	if err != nil {
		return err
	}
	fmt.Printf("kgbench: set up in %.1fs (work dir %s)\n", time.Since(began).Seconds(), env.dir)

	if cfg.hold {
		env.hold()
		return nil
	}
	cold, err := env.coldStart(1000)
	if err != nil {
		return err
	}
	cases, err := env.cases()
	if err != nil {
		return err
	}
	b := &bench{cfg: cfg, env: env, cases: cases}
	b.measure()
	b.print(os.Stdout, cold)
	sc, err := env.scale(ctx)
	if err != nil {
		return fmt.Errorf("scale cases: %w", err)
	}
	printScale(os.Stdout, sc, cfg)
	fmt.Printf("kgbench: done in %.1fs\n", time.Since(began).Seconds())
	return nil
}
