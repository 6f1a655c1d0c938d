package main

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// samples are the series of one scrape of a Prometheus text endpoint, by
// name with labels, as printed.
type samples map[string]float64

// scrape reads the metrics endpoint at url.
func scrape(url string) (samples, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping %s: status %d", url, resp.StatusCode)
	}
	s := samples{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			s[line[:i]] = v
		}
	}
	return s, sc.Err()
}

// sum adds up every series of the metric name, whatever its labels.
func (s samples) sum(name string) float64 {
	var total float64
	for series, v := range s {
		if series == name || strings.HasPrefix(series, name+"{") {
			total += v
		}
	}
	return total
}

// has reports whether the scrape holds a series of the metric name.
func (s samples) has(name string) bool {
	for series := range s {
		if series == name || strings.HasPrefix(series, name+"{") {
			return true
		}
	}
	return false
}

// storeLookups is the counter of store lookups keygate exposes.
const storeLookups = "keygate_store_lookup_duration_seconds_count"
