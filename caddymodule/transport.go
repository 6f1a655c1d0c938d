package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/headers"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
)

func init() {
	caddy.RegisterModule(Transport{})
}

// Transport is the reverse_proxy transport of the requests the keygate
// handler authenticated: it builds the upstream request from the key's
// integration, so that whatever the client sent, the request reaches only
// that integration's host and only paths under its base URL's path.
//
//   - The URL is the base URL's scheme and host:port, and its path is the
//     base path followed by the request's path as reverse_proxy would send
//     it (after handle_path, `uri strip_prefix` or any rewrite of the
//     operator), which must not be ambiguous (see keystore.AmbiguousPath):
//     an ambiguous one is refused, with 502 and an error in the log.
//   - The Host header is the base URL's host[:port], unless the same
//     reverse_proxy sets it itself (`header_up Host ...`): that is the way
//     to send another one, such as the client's (`header_up Host {host}`).
//   - https integrations are reached over TLS, http ones in the clear.
//
// `dynamic keygate` installs this transport with its defaults in a
// reverse_proxy that has none; write `transport keygate { ... }` to set
// it up. It takes every subdirective of `transport http`, which apply to
// the requests of every integration; the TLS ones (tls_trust_pool,
// tls_client_auth, tls_server_name, ...) to those of https integrations.
type Transport struct {
	// The settings of the HTTP transport, with the same names as
	// `transport http`'s. TLS, set or not, applies only to https
	// integrations; `versions h2c` only to http ones.
	reverseproxy.HTTPTransport

	plain, tls *reverseproxy.HTTPTransport
	// setHost: the transport sets Host, the reverse_proxy does not.
	setHost bool
	logger  *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Transport) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.transport.keygate",
		New: func() caddy.Module { return new(Transport) },
	}
}

// Provision checks that the transport is in a reverse_proxy whose upstream
// source is `dynamic keygate`, and sets up its two HTTP transports.
func (t *Transport) Provision(ctx caddy.Context) error {
	rp := parentReverseProxy(ctx)
	if rp == nil {
		return errors.New("transport keygate must be the transport of a reverse_proxy")
	}
	if !usesKeygateUpstreams(rp) {
		return errors.New("transport keygate needs `dynamic keygate` in the same reverse_proxy, so that requests go only to their integration")
	}
	if slices.Contains(t.Versions, "3") {
		return errors.New("transport keygate: versions 3 is not supported")
	}
	t.setHost = !setsHost(rp)
	t.logger = ctx.Logger()

	plain, secure := t.HTTPTransport, t.HTTPTransport
	plain.TLS = nil
	if secure.TLS == nil {
		secure.TLS = new(reverseproxy.TLSConfig)
	}
	if slices.Contains(secure.Versions, "h2c") {
		secure.Versions = nil // the default: 1.1 and 2
	}
	if err := plain.Provision(ctx); err != nil {
		return fmt.Errorf("transport keygate: %w", err)
	}
	if err := secure.Provision(ctx); err != nil {
		_ = plain.Cleanup()
		return fmt.Errorf("transport keygate, for https integrations: %w", err)
	}
	t.plain, t.tls = &plain, &secure
	return nil
}

// RoundTrip sends req to the integration of the key that authenticated it.
// It never changes req: reverse_proxy passes the same one again on a
// retry.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tg, ok := caddyhttp.GetVar(req.Context(), targetVar).(*target)
	if !ok {
		return nil, errNotAuthenticated
	}
	if di, ok := reverseproxy.GetDialInfo(req.Context()); !ok || di.Address != tg.hostport {
		t.logger.Error("upstream is not the integration's: refused", zap.String("integration", tg.integration), zap.String("upstream", di.Address))
		return nil, fmt.Errorf("integration %q: the upstream is not its base URL's host", tg.integration)
	}
	out, err := tg.upstreamRequest(req, t.setHost)
	if err != nil {
		t.logger.Error("upstream path refused", zap.String("integration", tg.integration), zap.Error(err))
		return nil, err
	}
	if tg.scheme == "https" {
		return t.tls.RoundTrip(out)
	}
	return t.plain.RoundTrip(out)
}

// errAmbiguousPath refuses an upstream path that keystore.AmbiguousPath
// refuses.
var errAmbiguousPath = errors.New("the request's path is ambiguous (dot-segments, encoded slashes, control characters)")

// upstreamRequest returns a copy of req for the target: its URL's scheme
// and host the base URL's, its path the base path followed by req's, and,
// if setHost, Host the base URL's host.
func (tg *target) upstreamRequest(req *http.Request, setHost bool) (*http.Request, error) {
	path, rawPath, err := tg.upstreamPath(req.URL.Path, req.URL.RawPath, req.URL.EscapedPath())
	if err != nil {
		return nil, err
	}
	out := new(http.Request)
	*out = *req
	u := *req.URL
	u.Scheme, u.Opaque, u.User = tg.scheme, "", nil
	if u.Host == "" {
		u.Host = tg.hostport
	}
	u.Path, u.RawPath = path, rawPath
	out.URL = &u
	if setHost {
		out.Host = tg.host
	}
	return out, nil
}

// upstreamPath returns the path (decoded, and its RawPath) of an upstream
// request for a request path given decoded, as its RawPath, and as sent:
// the base path followed by the request path, which must start with `/`
// (an empty one is `/`) and not be ambiguous. The result is therefore
// always under the base path.
func (tg *target) upstreamPath(path, rawPath, escaped string) (string, string, error) {
	if path == "" && escaped == "" {
		path, escaped = "/", "/"
	}
	if path[0] != '/' || escaped[0] != '/' || keystore.AmbiguousPath(escaped) || keystore.AmbiguousPath(path) {
		return "", "", errAmbiguousPath
	}
	if tg.path == "" {
		return path, rawPath, nil
	}
	if rawPath != "" {
		rawPath = tg.rawPath + escaped
	}
	return tg.path + path, rawPath, nil
}

// Cleanup closes the idle connections of both HTTP transports.
func (t *Transport) Cleanup() error {
	var errs []error
	for _, ht := range []*reverseproxy.HTTPTransport{t.plain, t.tls} {
		if ht != nil {
			errs = append(errs, ht.Cleanup())
		}
	}
	return errors.Join(errs...)
}

// RequestHeaderOps returns none: the transport sets Host itself, where
// `transport http` with TLS would set it to the dial address.
func (t *Transport) RequestHeaderOps() *headers.HeaderOps { return nil }

// parentReverseProxy returns the reverse_proxy handler being provisioned
// around the module ctx provisions, or nil.
func parentReverseProxy(ctx caddy.Context) *reverseproxy.Handler {
	mods := ctx.Modules()
	for i := len(mods) - 1; i >= 0; i-- {
		if rp, ok := mods[i].(*reverseproxy.Handler); ok {
			return rp
		}
	}
	return nil
}

// usesKeygateUpstreams reports whether rp's upstream source is `dynamic
// keygate`.
func usesKeygateUpstreams(rp *reverseproxy.Handler) bool {
	if _, ok := rp.DynamicUpstreams.(*Upstreams); ok {
		return true
	}
	var src struct {
		Source string `json:"source"`
	}
	return json.Unmarshal(rp.DynamicUpstreamsRaw, &src) == nil && src.Source == "keygate"
}

// setsHost reports whether rp's own header operations (`header_up`)
// touch the Host header.
func setsHost(rp *reverseproxy.Handler) bool {
	if rp.Headers == nil || rp.Headers.Request == nil {
		return false
	}
	ops := rp.Headers.Request
	isHost := func(name string) bool { return strings.EqualFold(name, "Host") }
	for name := range ops.Set {
		if isHost(name) {
			return true
		}
	}
	for name := range ops.Add {
		if isHost(name) {
			return true
		}
	}
	for name := range ops.Replace {
		if isHost(name) {
			return true
		}
	}
	return slices.ContainsFunc(ops.Delete, isHost)
}

// Interface guards
var (
	_ caddy.Provisioner                      = (*Transport)(nil)
	_ caddy.CleanerUpper                     = (*Transport)(nil)
	_ http.RoundTripper                      = (*Transport)(nil)
	_ reverseproxy.RequestHeaderOpsTransport = (*Transport)(nil)
)
