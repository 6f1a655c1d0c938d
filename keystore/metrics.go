package keystore

// Counter counts events. prometheus.Counter satisfies it.
type Counter interface{ Inc() }

// Gauge is a value that goes up and down. prometheus.Gauge satisfies it.
type Gauge interface {
	Inc()
	Dec()
}

// Observer records one measurement, such as a duration in seconds.
// prometheus.Histogram satisfies it.
type Observer interface{ Observe(float64) }

// Metrics are the verifier's instruments, which a caller such as the Caddy
// module fills with its collectors; nil ones measure nothing. They are
// called on the verification hot path, so they must neither block nor
// allocate: pre-resolve labelled children once.
type Metrics struct {
	// CacheHits counts verifications answered from the cache, negative
	// entries (known unknown keys) included.
	CacheHits Counter
	// CacheMisses counts verifications that needed the store, whether
	// they started a lookup or shared one in flight.
	CacheMisses Counter
	// LookupDuration observes each store lookup, in seconds, whatever its
	// outcome.
	LookupDuration Observer
	// LookupsInFlight is the number of store lookups under way.
	LookupsInFlight Gauge
	// LookupsRefused counts lookups refused with ErrLookupsBusy because
	// MaxConcurrentLookups were under way.
	LookupsRefused Counter
	// FeedReconnects counts the times a change feed worked again after
	// failing; followers report them with Verifier.FeedReconnected.
	FeedReconnects Counter
}

type nopMetric struct{}

func (nopMetric) Inc()            {}
func (nopMetric) Dec()            {}
func (nopMetric) Observe(float64) {}

// withDefaults returns m with every nil instrument replaced by one that
// measures nothing, so that the hot path needs no nil checks.
func (m Metrics) withDefaults() Metrics {
	var nop nopMetric
	if m.CacheHits == nil {
		m.CacheHits = nop
	}
	if m.CacheMisses == nil {
		m.CacheMisses = nop
	}
	if m.LookupDuration == nil {
		m.LookupDuration = nop
	}
	if m.LookupsInFlight == nil {
		m.LookupsInFlight = nop
	}
	if m.LookupsRefused == nil {
		m.LookupsRefused = nop
	}
	if m.FeedReconnects == nil {
		m.FeedReconnects = nop
	}
	return m
}
