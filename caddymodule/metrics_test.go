package caddymodule

import (
	"strings"
	"testing"

	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/verify"
	"github.com/prometheus/client_golang/prometheus"
)

func TestMetricsRegisterIntoFreshRegistries(t *testing.T) {
	v, err := verify.NewVerifier(&memLookuper{}, verify.VerifierConfig{MaxCost: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	rt := gateway.New(nil, v)
	// Caddy gives each config a fresh pedantic registry; a config may
	// register twice; the collectors outlive every registry.
	for range 2 {
		reg := prometheus.NewPedanticRegistry()
		for range 2 {
			if err := metrics.register(reg, rt); err != nil {
				t.Fatalf("registering: %v", err)
			}
		}
		families, err := reg.Gather()
		if err != nil {
			t.Fatalf("gathering: %v", err)
		}
		got := map[string]bool{}
		for _, f := range families {
			got[f.GetName()] = true
		}
		for _, name := range []string{
			"keygate_auth_requests_total", "keygate_cache_hits_total", "keygate_cache_misses_total",
			"keygate_store_lookup_duration_seconds", "keygate_store_lookups_in_flight",
			"keygate_limiter_refusals_total", "keygate_feed_lag_seconds", "keygate_feed_reconnects_total",
			"keygate_last_used_flushes_total", "keygate_last_used_keys_written_total",
			"keygate_gateways_live",
		} {
			if !got[name] {
				t.Errorf("%s not gathered", name)
			}
		}
	}
	if err := metrics.register(nil, rt); err != nil {
		t.Fatalf("no registry: %v", err)
	}
}

func TestEveryRefusalIsCounted(t *testing.T) {
	for _, rf := range refusals {
		if metrics.refused[rf.reason] == nil {
			t.Errorf("refusal %q has no counter", rf.reason)
		}
		if strings.TrimSpace(rf.reason) == "" {
			t.Error("a refusal has no reason")
		}
	}
}
