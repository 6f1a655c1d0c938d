package portal

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/keystore"
)

func TestUsageChart(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 30, 0, 0, time.UTC)
	counts := []keystore.UsageCount{
		{Start: now.Add(-30 * time.Hour), Requests: 1000},                     // before the window
		{Start: time.Date(2026, 12, 1, 11, 5, 0, 0, time.UTC), Requests: 10},  // the first hour
		{Start: time.Date(2026, 12, 1, 11, 50, 0, 0, time.UTC), Requests: 10}, // the first hour too
		{Start: time.Date(2026, 12, 2, 10, 25, 0, 0, time.UTC), Requests: 5},  // the hour of now
	}
	c := newUsageChart(counts, now)
	if c.Total != 25 || c.Peak != 20 || c.From != "Dec 1 11:00 UTC" {
		t.Fatalf("total %d, peak %d, from %q; want 25, 20, Dec 1 11:00 UTC", c.Total, c.Peak, c.From)
	}
	svg := string(c.SVG)
	bars := regexp.MustCompile(`<rect class="bar" x="(\d+)" y="(\d+)" width="\d+" height="(\d+)"><title>([^<]*)</title>`).FindAllStringSubmatch(svg, -1)
	if len(bars) != chartHours {
		t.Fatalf("%d bars, want %d", len(bars), chartHours)
	}
	height := func(i int) int { n, _ := strconv.Atoi(bars[i][3]); return n }
	if height(0) != chartHeight || height(23) != chartHeight/4 || height(12) != 0 {
		t.Errorf("heights: first %d, last %d, middle %d; want %d, %d, 0", height(0), height(23), height(12), chartHeight, chartHeight/4)
	}
	if !strings.Contains(bars[0][4], "Dec 1 11:00–12:00 UTC: 20 requests") || !strings.Contains(bars[23][4], "10:00–11:00 UTC: 5 requests") {
		t.Errorf("titles: %q, %q", bars[0][4], bars[23][4])
	}
	if !strings.Contains(svg, `role="img"`) || !strings.Contains(svg, "25 in all") {
		t.Errorf("the chart has no accessible summary")
	}
	if empty := newUsageChart(nil, now); empty.Total != 0 || strings.Contains(string(empty.SVG), `height="-`) {
		t.Errorf("an empty chart: %+v", empty)
	}
}

func TestCSRFToken(t *testing.T) {
	k, err := newCSRFKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	tok := k.token("alice", now)
	if !k.valid(tok, "alice", now.Add(time.Hour)) {
		t.Fatal("a fresh token is refused")
	}
	other, _ := newCSRFKey([]byte(strings.Repeat("x", 32)))
	for name, ok := range map[string]bool{
		"another user":    k.valid(tok, "alic", now),
		"expired":         k.valid(tok, "alice", now.Add(csrfLifetime+time.Second)),
		"from the future": k.valid(k.token("alice", now.Add(time.Hour)), "alice", now),
		"another secret":  other.valid(tok, "alice", now),
		"tampered time":   k.valid("1800000001"+tok[10:], "alice", now),
	} {
		if ok {
			t.Errorf("%s: token accepted", name)
		}
	}
	if _, err := newCSRFKey(make([]byte, 16)); err == nil {
		t.Error("a 16-byte secret was accepted")
	}
}
