package verify

// Counter counts events. prometheus.Counter satisfies it.
type Counter interface{ Inc() }

// Gauge is a value that goes up and down. prometheus.Gauge satisfies it.
type Gauge interface {
	Inc()
	Dec()
}

// Adder counts events in batches. prometheus.Counter satisfies it.
type Adder interface{ Add(float64) }

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
	// LookupRateRefused counts lookups refused with ErrLookupsBusy because
	// MaxLookupRate's budget was spent.
	LookupRateRefused Counter
	// FeedReconnects counts the times a change feed worked again after
	// failing; followers report them with Verifier.FeedReconnected.
	FeedReconnects Counter
	// LastUsedFlushes counts the batches of last-used times a
	// UsageRecorder wrote (or tried to write) to the store: one
	// Store.TouchKeys call each.
	LastUsedFlushes Counter
	// LastUsedKeysWritten counts the keys in the batches LastUsedFlushes
	// counts that the store accepted.
	LastUsedKeysWritten Adder
}

type nopMetric struct{}

func (nopMetric) Inc()            {}
func (nopMetric) Dec()            {}
func (nopMetric) Add(float64)     {}
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
	if m.LookupRateRefused == nil {
		m.LookupRateRefused = nop
	}
	if m.FeedReconnects == nil {
		m.FeedReconnects = nop
	}
	if m.LastUsedFlushes == nil {
		m.LastUsedFlushes = nop
	}
	if m.LastUsedKeysWritten == nil {
		m.LastUsedKeysWritten = nop
	}
	return m
}
