package caddymodule

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/keystore/sqlite"
	"github.com/keygate/keygate/keystore/storetest"
	"github.com/keygate/keygate/portal"
)

// BenchmarkPortalIntegrationPage renders an integration's page with
// 10,000 keys, its first and its last page, over the real operations on
// an SQLite store, against the page of an integration with 50 keys (one
// full page) in the same run. The listing is paged by the store, so the big integration's
// page costs about what the small one's does: the ratios say so.
func BenchmarkPortalIntegrationPage(b *testing.B) {
	store, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "keygate.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	for id, n := range map[string]int{"small": 50, "big": 10_000} {
		if err := store.CreateIntegration(b.Context(), keystore.Integration{ID: id, BaseURL: "http://127.0.0.1:9001"}); err != nil {
			b.Fatal(err)
		}
		created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range n {
			if err := store.CreateKey(b.Context(), storetest.NewKey(b, id, fmt.Sprintf("key-%05d", i), created.Add(time.Duration(i)*time.Second))); err != nil {
				b.Fatal(err)
			}
		}
	}
	p, err := portal.New(portal.Config{Ops: &portalOps{runtime: gateway.New(store, nil), audit: zap.NewNop()}, Secret: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		b.Fatal(err)
	}
	get := func(path string) time.Duration {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		w := httptest.NewRecorder()
		start := time.Now()
		p.Serve(w, req, "bench", "")
		took := time.Since(start)
		if w.Code != http.StatusOK {
			b.Fatalf("GET %s: %d", path, w.Code)
		}
		return took
	}
	var small, first, last time.Duration
	b.ResetTimer()
	for b.Loop() {
		small += get("/integrations/small")
		first += get("/integrations/big")
		last += get("/integrations/big?page=200")
	}
	n := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / n }
	b.ReportMetric(ms(small), "ms/page(50-keys)")
	b.ReportMetric(ms(first), "ms/page(10k-keys,first)")
	b.ReportMetric(ms(last), "ms/page(10k-keys,last)")
	b.ReportMetric(float64(first)/float64(small), "first/50-keys")
	b.ReportMetric(float64(last)/float64(small), "last/50-keys")
}
