package caddymodule

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"strconv"
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
			"keygate_last_used_flushes_total", "keygate_last_used_keys_written_total", "keygate_tokens_issued_total",
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

// TestEveryRefusalIsCounted finds every refusal declared in the package
// (a package-level `&refusal{"reason", ...}`), so that one added without
// its counter fails here rather than counting nothing.
func TestEveryRefusalIsCounted(t *testing.T) {
	pkgs, err := parser.ParseDir(token.NewFileSet(), ".", func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, file := range pkgs["caddymodule"].Files {
		ast.Inspect(file, func(n ast.Node) bool {
			u, ok := n.(*ast.UnaryExpr)
			if !ok {
				return true
			}
			lit, ok := u.X.(*ast.CompositeLit)
			if !ok || len(lit.Elts) == 0 {
				return true
			}
			if id, ok := lit.Type.(*ast.Ident); !ok || id.Name != "refusal" {
				return true
			}
			reason, err := strconv.Unquote(lit.Elts[0].(*ast.BasicLit).Value)
			if err != nil || strings.TrimSpace(reason) == "" {
				t.Errorf("a refusal without a reason: %v", err)
			}
			found++
			if metrics.refused[reason] == nil {
				t.Errorf("refusal %q has no counter: add it to refusals", reason)
			}
			return true
		})
	}
	if found < 10 {
		t.Fatalf("found %d refusals in the package, want every one of them", found)
	}
}
