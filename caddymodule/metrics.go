package caddymodule

import (
	"errors"
	"fmt"
	"time"

	"github.com/keygate/keygate/verify"
	"github.com/prometheus/client_golang/prometheus"
)

// keygate's Prometheus metrics, served by Caddy's metrics endpoint (the
// admin API's /metrics). The collectors are process-wide, so that counters
// run on across config reloads; Caddy gives each config a fresh registry,
// and each config's keygate app registers them into it. Labelled children
// are resolved once, here: the request path only increments.
type collectors struct {
	authRequests    *prometheus.CounterVec
	cacheHits       prometheus.Counter
	cacheMisses     prometheus.Counter
	lookupDuration  prometheus.Histogram
	lookupsInFlight prometheus.Gauge
	limiterRefusals *prometheus.CounterVec
	feedReconnects  prometheus.Counter
	usageFlushes    prometheus.Counter
	usageKeys       prometheus.Counter
	tokensIssued    prometheus.Counter

	allowed         prometheus.Counter            // auth requests allowed
	refused         map[string]prometheus.Counter // auth requests refused, by reason
	failedAuthLimit prometheus.Counter            // refusals of the failed-auth limiter
	lookupLimit     prometheus.Counter            // refusals of the lookup cap
	lookupRateLimit prometheus.Counter            // refusals of the lookup rate
}

// metrics are the process's keygate collectors.
var metrics = newCollectors()

// refusals are every refusal, for their counters.
var refusals = []*refusal{
	refuseMissing, refuseMalformed, refuseUnknown, refuseRevoked, refuseExpired, refuseExchangeOnly,
	refuseWrongIntegration, refuseUnavailable, refuseRateLimited, refuseBadPath,
}

func newCollectors() *collectors {
	const ns = "keygate"
	c := &collectors{
		authRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "auth_requests_total",
			Help: "Requests the keygate handler authenticated, by result (allowed, refused) and the auth log's reason for refusals.",
		}, []string{"result", "reason"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "cache_hits_total",
			Help: "Key verifications answered from the cache, known unknown keys included.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "cache_misses_total",
			Help: "Key verifications that needed the key store.",
		}),
		lookupDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "store_lookup_duration_seconds",
			Help:    "Duration of key store lookups, whatever their outcome; the count is the number of lookups.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		lookupsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "store_lookups_in_flight",
			Help: "Key store lookups under way.",
		}),
		limiterRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "limiter_refusals_total",
			Help: "Requests refused by a limiter: failed_auth (429, a client over failed_auth_limit), store_lookups (503, max_concurrent_lookups under way) or store_lookup_rate (503, max_lookup_rate spent).",
		}, []string{"limiter"}),
		feedReconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "feed_reconnects_total",
			Help: "Times the key store's change feed worked again after failing.",
		}),
		usageFlushes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "last_used_flushes_total",
			Help: "Batches of last-used times written (or attempted) to the key store, one statement each, every last_used_interval when keys were used.",
		}),
		usageKeys: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "last_used_keys_written_total",
			Help: "Keys whose last-used time a batch wrote to the key store.",
		}),
		tokensIssued: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "tokens_issued_total",
			Help: "Access tokens issued by keygate_token endpoints.",
		}),
		refused: make(map[string]prometheus.Counter, len(refusals)),
	}
	c.allowed = c.authRequests.WithLabelValues("allowed", "")
	for _, rf := range refusals {
		c.refused[rf.reason] = c.authRequests.WithLabelValues("refused", rf.reason)
	}
	c.failedAuthLimit = c.limiterRefusals.WithLabelValues("failed_auth")
	c.lookupLimit = c.limiterRefusals.WithLabelValues("store_lookups")
	c.lookupRateLimit = c.limiterRefusals.WithLabelValues("store_lookup_rate")
	return c
}

// verifier returns the verifier's instruments.
func (c *collectors) verifier() verify.Metrics {
	return verify.Metrics{
		CacheHits:         c.cacheHits,
		CacheMisses:       c.cacheMisses,
		LookupDuration:    c.lookupDuration,
		LookupsInFlight:   c.lookupsInFlight,
		LookupsRefused:    c.lookupLimit,
		LookupRateRefused: c.lookupRateLimit,
		FeedReconnects:    c.feedReconnects,

		LastUsedFlushes:     c.usageFlushes,
		LastUsedKeysWritten: c.usageKeys,
	}
}

// countRefusal counts a refused request.
func (c *collectors) countRefusal(rf *refusal) {
	if n, ok := c.refused[rf.reason]; ok {
		n.Inc()
	}
	if rf == refuseRateLimited {
		c.failedAuthLimit.Inc()
	}
}

// followedRuntime tells the change feed's lag and the fleet's live
// count: a gateway.Runtime does.
type followedRuntime interface {
	FeedLag(now time.Time) (time.Duration, bool)
	GatewaysLive() int
}

// register registers the collectors into reg, with the change feed's lag
// and the fleet's live count as feed tells them when the store has a feed
// (nil: none). Registering twice is harmless.
func (c *collectors) register(reg *prometheus.Registry, feed followedRuntime) error {
	if reg == nil {
		return nil
	}
	all := []prometheus.Collector{c.authRequests, c.cacheHits, c.cacheMisses,
		c.lookupDuration, c.lookupsInFlight, c.limiterRefusals, c.feedReconnects,
		c.usageFlushes, c.usageKeys, c.tokensIssued}
	if feed != nil {
		all = append(all, feedLagGauge(feed), gatewaysLiveGauge(feed))
	}
	for _, col := range all {
		if err := reg.Register(col); err != nil {
			if are := (prometheus.AlreadyRegisteredError{}); !errors.As(err, &are) {
				return fmt.Errorf("registering keygate metrics: %w", err)
			}
		}
	}
	return nil
}

// feedLagGauge reports how long ago the change feed was last known
// healthy: about a second while it is, growing while it is down.
func feedLagGauge(feed followedRuntime) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "keygate", Name: "feed_lag_seconds",
		Help: "Time since the key store's change feed was last known healthy: under about a second while it is.",
	}, func() float64 {
		lag, ok := feed.FeedLag(time.Now())
		if !ok {
			return 0
		}
		return lag.Seconds()
	})
}

// gatewaysLiveGauge reports the live gateway instances of the key store's
// fleet table, as of this instance's last record: 0 until the first.
func gatewaysLiveGauge(feed followedRuntime) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "keygate", Name: "gateways_live",
		Help: "Live gateway instances in the key store's fleet table (keygate gateways list), this one included, as of this instance's last heartbeat.",
	}, func() float64 {
		return float64(feed.GatewaysLive())
	})
}
