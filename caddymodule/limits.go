package caddymodule

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/keygate/keygate/verify"
	"go.uber.org/zap/zapcore"
)

// Limits bound what bad keys may cost the gateway and its key store. They
// are part of the keygate app's config (the `keygate` global option).
type Limits struct {
	// The most key store lookups under way at once on this gateway. A key
	// that is not cached while that many are under way is refused with
	// 503 and `Retry-After` (auth log reason `store_unavailable`) instead
	// of queueing in front of the database. Concurrent first uses of one
	// key share one lookup. Default: 64.
	MaxConcurrentLookups int `json:"max_concurrent_lookups,omitempty"`

	// The most key store lookups this gateway starts per second, on
	// average, with bursts of up to one second's worth. A key that is
	// not cached while the budget is spent is refused with 503 and
	// `Retry-After` (auth log reason `store_unavailable`), like one past
	// max_concurrent_lookups: however fast the database answers, a flood
	// of well-formed unknown keys from many addresses costs it no more
	// than this. Cached keys, valid or known unknown, need no budget. Set
	// it to what the database can spare for this gateway; a gateway
	// restarted in front of many active keys warms up at this pace.
	// Negative turns it off. Default: 5000.
	MaxLookupRate int `json:"max_lookup_rate,omitempty"`

	// How many failed authentications with a key that could be a guess —
	// malformed or unknown — a client IP may have within
	// failed_auth_window, counted from its first, before its requests are
	// refused with 429 and `Retry-After` until that window ends (auth log
	// reason `rate_limited`), before any work on their keys. Revoked,
	// expired and wrong-integration keys are real keys: they are logged
	// and counted in the metrics, not limited, so that one stale client
	// behind a shared address does not lock out its neighbours. IPv6 clients are counted by /64. The client IP
	// is Caddy's: the connection's, or the one a proxy listed in the
	// server's trusted_proxies forwards. Negative turns the limiter off.
	// Default: 20.
	FailedAuthLimit int `json:"failed_auth_limit,omitempty"`

	// The period failed authentications are counted over. Default: 1m.
	FailedAuthWindow caddy.Duration `json:"failed_auth_window,omitempty"`

	failedAuth *verify.FailureLimiter // nil when off
}

// bodyRateLimited is the body of a 429.
const bodyRateLimited = `{"error":"too_many_failed_attempts"}` + "\n"

// refuseRateLimited refuses a client over the failed-auth limit.
var refuseRateLimited = &refusal{"rate_limited", http.StatusTooManyRequests, "", bodyRateLimited, zapcore.InfoLevel}

// provision applies the defaults, checks the settings and builds the
// failed-auth limiter.
func (l *Limits) provision() error {
	if l.MaxConcurrentLookups == 0 {
		l.MaxConcurrentLookups = verify.DefaultMaxConcurrentLookups
	}
	if l.MaxLookupRate == 0 {
		l.MaxLookupRate = verify.DefaultMaxLookupRate
	}
	if l.FailedAuthLimit == 0 {
		l.FailedAuthLimit = verify.DefaultFailureLimit
	}
	if l.FailedAuthWindow == 0 {
		l.FailedAuthWindow = caddy.Duration(verify.DefaultFailureWindow)
	}
	switch {
	case l.MaxConcurrentLookups < 0:
		return fmt.Errorf("max_concurrent_lookups must be positive, got %d", l.MaxConcurrentLookups)
	case l.FailedAuthWindow < 0:
		return fmt.Errorf("failed_auth_window must be positive, got %s", time.Duration(l.FailedAuthWindow))
	case l.FailedAuthLimit < 0:
		l.failedAuth = nil
		return nil
	}
	var err error
	l.failedAuth, err = verify.NewFailureLimiter(verify.FailureLimiterConfig{
		Limit:  l.FailedAuthLimit,
		Window: time.Duration(l.FailedAuthWindow),
	})
	return err
}

// blocked reports whether r's client is over the failed-auth limit, and
// for how long still. While no client is, it costs an atomic load and a
// clock read.
func (l *Limits) blocked(r *http.Request) (time.Duration, bool) {
	if l.failedAuth == nil || !l.failedAuth.Blocking() {
		return 0, false
	}
	return l.failedAuth.Blocked(clientAddr(r))
}

// countsAsFailure reports whether a refusal counts against the client's
// failed-auth limit: the key presented could be a guess. Missing
// credentials guess nothing; a revoked, expired or other integration's
// key is a real one, in the cache; store_unavailable is the gateway's
// failure, not the client's.
func countsAsFailure(rf *refusal) bool {
	return rf == refuseMalformed || rf == refuseUnknown
}

// noteRefusal counts a refused request in the metrics and, if it is a
// failed authentication, against its client.
func (l *Limits) noteRefusal(r *http.Request, rf *refusal) {
	metrics.countRefusal(rf)
	if l.failedAuth != nil && countsAsFailure(rf) {
		l.failedAuth.Failed(clientAddr(r))
	}
}

// refuseLimited answers a client over the failed-auth limit with 429 and
// how long it must wait.
func (h *Handler) refuseLimited(w http.ResponseWriter, r *http.Request, wait time.Duration) error {
	w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSecs(wait), 10))
	return h.refuse(w, r, refuseRateLimited, nil, "", nil)
}

// retryAfterSecs rounds wait up to whole seconds, at least one.
func retryAfterSecs(wait time.Duration) int64 {
	return max(1, int64((wait+time.Second-1)/time.Second))
}

// clientAddr returns the request's client IP as Caddy determined it
// (trusted proxies included), else the connection's; the zero Addr if
// neither parses.
func clientAddr(r *http.Request) netip.Addr {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		if a, err := netip.ParseAddr(ip); err == nil {
			return a
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a
}
