package portal

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/keygate/keygate/keystore"
)

// chartHours is the span of the usage chart, one bar per hour.
const chartHours = 24

// chart geometry, in SVG user units; the SVG scales to its box.
const (
	chartWidth  = 480
	chartHeight = 120
	chartBar    = chartWidth / chartHours
	chartGap    = 2
)

// usageChart is a key's requests over the last 24 hours: one bar per hour,
// the newest on the right, each with a title that says its count.
type usageChart struct {
	SVG   template.HTML
	Total int64
	Peak  int64
	// From is when the first bar starts, as the axis labels it.
	From string
}

// hourlyCounts sums counts into the chartHours hours that end with the
// hour now falls in, oldest first, and returns the start of the first.
func hourlyCounts(counts []keystore.UsageCount, now time.Time) ([]int64, time.Time) {
	first := now.UTC().Truncate(time.Hour).Add(-(chartHours - 1) * time.Hour)
	hours := make([]int64, chartHours)
	for _, c := range counts {
		i := int(c.Start.Sub(first) / time.Hour)
		if c.Start.Before(first) || i >= chartHours {
			continue
		}
		hours[i] += c.Requests
	}
	return hours, first
}

// since is where a chart's counts start: what to ask the store for.
func chartSince(now time.Time) time.Time {
	return now.UTC().Truncate(time.Hour).Add(-(chartHours - 1) * time.Hour)
}

// newUsageChart draws counts as of now.
func newUsageChart(counts []keystore.UsageCount, now time.Time) usageChart {
	hours, first := hourlyCounts(counts, now)
	c := usageChart{From: first.Format("Jan 2 15:04") + " UTC"}
	for _, n := range hours {
		c.Total += n
		c.Peak = max(c.Peak, n)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title" preserveAspectRatio="none">`, chartWidth, chartHeight+1)
	fmt.Fprintf(&b, `<title id="chart-title">%s</title>`, template.HTMLEscapeString(
		fmt.Sprintf("Requests per hour over the last 24 hours: %d in all, at most %d in an hour", c.Total, c.Peak)))
	fmt.Fprintf(&b, `<line class="axis" x1="0" y1="%d" x2="%d" y2="%d"/>`, chartHeight, chartWidth, chartHeight)
	for i, n := range hours {
		h := 0
		if c.Peak > 0 {
			h = int((n*chartHeight + c.Peak - 1) / c.Peak) // at least 1 for any request
		}
		start := first.Add(time.Duration(i) * time.Hour)
		label := fmt.Sprintf("%s–%s UTC: %d requests", start.Format("Jan 2 15:04"), start.Add(time.Hour).Format("15:04"), n)
		fmt.Fprintf(&b, `<rect class="bar" x="%d" y="%d" width="%d" height="%d"><title>%s</title></rect>`,
			i*chartBar+chartGap/2, chartHeight-h, chartBar-chartGap, h, template.HTMLEscapeString(label))
	}
	b.WriteString(`</svg>`)
	c.SVG = template.HTML(b.String()) // every value in it is a number or escaped
	return c
}
