package caddymodule

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/verify"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Headers the handler sets for the upstream, after removing every
// client-sent header whose name starts with keygateHeaderPrefix.
const (
	HeaderKeyID       = "X-Keygate-Key-Id"
	HeaderKeyName     = "X-Keygate-Key-Name"
	HeaderIntegration = "X-Keygate-Integration"

	keygateHeaderPrefix = "X-Keygate-"
)

// targetVar is the request variable holding the authenticated request's
// *target, for the upstream source.
const targetVar = "keygate.target"

// Handler authenticates requests by their Access Key, sent as
// `Authorization: Bearer <key>`, against the keygate app's key store.
//
// A request whose path is ambiguous (see keystore.AmbiguousPath: a dot
// segment or an encoded slash after any decoding, a backslash, a control
// byte), as the client sent it or as it is now, is refused first with 400,
// before the key costs anything. A request without a valid key is refused
// with 401 (403 for a valid key of
// another integration than the route's, 503 when the key is not cached and
// the store cannot answer), and the refusal is written to the auth log; the
// next handler does not run.
//
// An authenticated request goes on with, for the upstream, the headers
// X-Keygate-Key-Id, X-Keygate-Key-Name and X-Keygate-Integration (any
// client-sent X-Keygate-* header is removed first) and without its
// Authorization header unless forward_credentials is set, from its headers
// and its trailers alike; and with the placeholders:
//
// Placeholder | Value
// ------------|------
// `{keygate.key.id}` | the key's public id
// `{keygate.key.name}` | the key's name
// `{keygate.integration.id}` | the key's integration
// `{keygate.integration.base_url}` | the integration's base URL
// `{keygate.integration.scheme}` | its scheme, `http` or `https`
// `{keygate.integration.host}` | its host:port, the port defaulted from the scheme
// `{keygate.integration.path}` | its path, without trailing slash; empty for none
// `{http.auth.user.id}` | the key's public id, as Caddy's access log `user_id`
type Handler struct {
	// Pins the route to one integration: a valid key of any other
	// integration is refused with 403. May hold placeholders, resolved per
	// request, such as `{re.tenant.1}` from a path_regexp matcher named
	// tenant; a placeholder that resolves to nothing refuses every key.
	// Default: any integration.
	Integration string `json:"integration,omitempty"`

	// Forward the client's Authorization header to the upstream. By default
	// it is removed, so that the upstream never sees keys.
	ForwardCredentials bool `json:"forward_credentials,omitempty"`

	app                *App
	logger             *zap.Logger
	integrationDynamic bool // Integration holds placeholders
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.keygate",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision gets the keygate app, which Caddy instantiates with its
// defaults when the config has no keygate global option.
func (h *Handler) Provision(ctx caddy.Context) error {
	app, err := keygateApp(ctx)
	if err != nil {
		return err
	}
	return h.setup(app, ctx.Logger())
}

// setup checks the handler's config and binds it to app.
func (h *Handler) setup(app *App, logger *zap.Logger) error {
	if h.Integration != "" {
		if err := checkPinnedIntegration(h.Integration); err != nil {
			return err
		}
	}
	h.integrationDynamic = strings.Contains(h.Integration, "{")
	h.app, h.logger = app, logger
	return nil
}

// checkPinnedIntegration fails unless id is an integration id or holds a
// placeholder.
func checkPinnedIntegration(id string) error {
	if !strings.Contains(id, "{") && !keystore.ValidIntegrationID(id) {
		return fmt.Errorf("invalid integration %q: want 1 to 63 lowercase letters, digits, '-' or '_', or a placeholder", id)
	}
	return nil
}

// ServeHTTP authenticates the request and either refuses it or passes it,
// with the key's identity, to next.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if ambiguousRequestPath(r) {
		return h.refuse(w, r, refuseBadPath, nil, "", nil)
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if t, ok := caddyhttp.GetVar(r.Context(), targetVar).(*target); ok {
		return h.serveAgain(w, r, next, repl, t)
	}
	// A client over the failed-auth limit is refused with 429 unless its
	// key is valid in the cache: its address may be shared (NAT, a proxy)
	// with whoever sent the bad keys. Its request costs no lookup.
	wait, blocked := h.app.blocked(r)
	token, status := bearerToken(r.Header)
	switch {
	case status != credentialsOK && blocked:
		return h.refuseLimited(w, r, wait)
	case status == credentialsMissing:
		return h.refuse(w, r, refuseMissing, nil, "", nil)
	case status == credentialsMalformed:
		return h.refuse(w, r, refuseMalformed, nil, "", nil)
	}
	var cred keystore.Credential
	var err error
	if blocked {
		cred, err = h.app.auth.AuthenticateCached(r.Context(), token)
		if errors.Is(err, verify.ErrNotCached) || errors.Is(err, keystore.ErrUnknownKey) || errors.Is(err, keystore.ErrMalformed) {
			return h.refuseLimited(w, r, wait)
		}
	} else {
		cred, err = h.app.auth.Authenticate(r.Context(), token)
	}
	if err != nil {
		switch {
		case errors.Is(err, keystore.ErrMalformed):
			return h.refuse(w, r, refuseMalformed, nil, "", nil)
		case errors.Is(err, keystore.ErrUnknownKey):
			return h.refuse(w, r, refuseUnknown, nil, "", nil)
		case errors.Is(err, keystore.ErrRevoked):
			return h.refuse(w, r, refuseRevoked, &cred, "", nil)
		case errors.Is(err, keystore.ErrExpired):
			return h.refuse(w, r, refuseExpired, &cred, "", nil)
		case errors.Is(err, keystore.ErrExchangeOnly):
			return h.refuse(w, r, refuseExchangeOnly, &cred, "", nil)
		default:
			return h.refuse(w, r, refuseUnavailable, nil, "", err)
		}
	}

	if pinned, mismatch := h.pinMismatch(repl, cred.IntegrationID); mismatch {
		return h.refuse(w, r, refuseWrongIntegration, &cred, pinned, nil)
	}
	t, err := h.app.targets.get(&cred)
	if err != nil {
		h.logger.Error("cannot route authenticated request", zap.String("key_id", cred.KeyID), zap.Error(err))
		return caddyhttp.Error(http.StatusBadGateway, err)
	}

	kind := gateway.Kind(token)
	h.setUpstreamHeaders(r.Header, &cred)
	h.guardTrailers(r)
	keyID := any(cred.KeyID)
	repl.Set("keygate.key.id", keyID)
	repl.Set("keygate.key.name", cred.KeyName)
	repl.Set("keygate.integration.id", t.integrationVal)
	repl.Set("keygate.integration.base_url", t.baseURLVal)
	repl.Set("keygate.integration.scheme", t.schemeVal)
	repl.Set("keygate.integration.host", t.hostVal)
	repl.Set("keygate.integration.path", t.pathVal)
	repl.Set("http.auth.user.id", keyID)
	caddyhttp.SetVar(r.Context(), targetVar, t)
	h.logAllowed(r, &cred, kind)
	metrics.allowed.Inc()
	return next.ServeHTTP(w, r)
}

// pinMismatch returns the integration the route is pinned to, and whether
// integration is another one.
func (h *Handler) pinMismatch(repl *caddy.Replacer, integration string) (string, bool) {
	if h.Integration == "" {
		return "", false
	}
	pinned := h.Integration
	if h.integrationDynamic {
		pinned = repl.ReplaceAll(pinned, "")
	}
	return pinned, integration != pinned
}

// serveAgain passes on a request that a keygate handler earlier in its
// chain (in an enclosing route, say) authenticated, and that may no longer
// carry its key: only this handler's pin and forward_credentials remain to
// apply.
func (h *Handler) serveAgain(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, repl *caddy.Replacer, t *target) error {
	if pinned, mismatch := h.pinMismatch(repl, t.integration); mismatch {
		keyID, _ := repl.GetString("keygate.key.id")
		keyName, _ := repl.GetString("keygate.key.name")
		cred := keystore.Credential{KeyID: keyID, KeyName: keyName, IntegrationID: t.integration}
		return h.refuse(w, r, refuseWrongIntegration, &cred, pinned, nil)
	}
	if !h.ForwardCredentials {
		delete(r.Header, "Authorization")
	}
	return next.ServeHTTP(w, r)
}

// refuse answers the request with rf and logs it.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, rf *refusal, cred *keystore.Credential, pinned string, err error) error {
	h.logRefusal(r, rf, cred, pinned, err)
	h.app.noteRefusal(r, rf)
	rf.write(w)
	return nil
}

// setUpstreamHeaders replaces the client's X-Keygate-* headers with the
// key's identity and removes the key unless it is to be forwarded.
func (h *Handler) setUpstreamHeaders(hdr http.Header, cred *keystore.Credential) {
	for name := range hdr {
		if isKeygateHeader(name) {
			delete(hdr, name)
		}
	}
	// reverse_proxy removes, after this handler, every header the client
	// names in Connection: it must not be able to name ours.
	if conn, ok := hdr["Connection"]; ok {
		if kept, changed := withoutProtectedTokens(conn); changed {
			if len(kept) == 0 {
				delete(hdr, "Connection")
			} else {
				hdr["Connection"] = kept
			}
		}
	}
	if !h.ForwardCredentials {
		delete(hdr, "Authorization")
	}
	vals := &[3]string{cred.KeyID, cred.KeyName, cred.IntegrationID}
	hdr[HeaderKeyID] = vals[0:1:1]
	hdr[HeaderKeyName] = vals[1:2:2]
	hdr[HeaderIntegration] = vals[2:3:3]
}

// ambiguousRequestPath reports whether the request's path is ambiguous
// (keystore.AmbiguousPath) as the client sent it, in origin or absolute
// form, or as it is now, after any rewrite ahead of the handler; or is
// not a path at all (`OPTIONS *`). It does not allocate for a path without
// percent-escapes.
func ambiguousRequestPath(r *http.Request) bool {
	sent, ok := requestTargetPath(clientURI(r))
	if !ok || keystore.AmbiguousPath(sent) {
		return true
	}
	if p := r.URL.Path; p != "" && p[0] != '/' || keystore.AmbiguousPath(p) {
		return true
	}
	if esc := r.URL.EscapedPath(); esc != sent && keystore.AmbiguousPath(esc) {
		return true
	}
	return false
}

// requestTargetPath returns the path of a request target (RFC 9112 3.2):
// origin form (/p?q) or absolute form (http://host/p?q); false for any
// other, such as `*`. An empty target (HTTP/3 without one) has an empty
// path.
func requestTargetPath(uri string) (string, bool) {
	if uri == "" {
		return "", true
	}
	if uri[0] != '/' {
		i := strings.Index(uri, "://")
		if i <= 0 {
			return "", false
		}
		rest := uri[i+3:]
		j := strings.IndexAny(rest, "/?")
		if j < 0 {
			return "", true
		}
		uri = rest[j:]
	}
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	return uri, true
}

// guardTrailers keeps the client from sending X-Keygate-* or
// Authorization to the upstream as request trailers: reverse_proxy copies
// the request's trailers when it reads the body to its end, so they are
// removed then, and from the declared ones now. A request without a body
// has no trailers and costs nothing.
func (h *Handler) guardTrailers(r *http.Request) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	h.stripTrailers(r.Trailer)
	r.Body = &trailerGuard{ReadCloser: r.Body, h: h, r: r}
}

// stripTrailers removes from trailers the ones the upstream must only get
// from keygate: X-Keygate-*, and Authorization unless forwarded.
func (h *Handler) stripTrailers(trailers http.Header) {
	for name := range trailers {
		if isKeygateHeader(name) || !h.ForwardCredentials && strings.EqualFold(name, "Authorization") {
			delete(trailers, name)
		}
	}
}

// trailerGuard is a request body that strips its request's trailers once
// read to the end, when net/http has filled them in.
type trailerGuard struct {
	io.ReadCloser
	h *Handler
	r *http.Request
}

func (g *trailerGuard) Read(p []byte) (int, error) {
	n, err := g.ReadCloser.Read(p)
	if err == io.EOF {
		g.h.stripTrailers(g.r.Trailer)
	}
	return n, err
}

// isKeygateHeader reports whether name, in any case, starts with X-Keygate-.
func isKeygateHeader(name string) bool {
	return len(name) >= len(keygateHeaderPrefix) && name[0]|0x20 == 'x' &&
		strings.EqualFold(name[:len(keygateHeaderPrefix)], keygateHeaderPrefix)
}

// withoutProtectedTokens returns the Connection header values without the
// tokens that name an X-Keygate-* header or Authorization, and whether there
// were any.
func withoutProtectedTokens(values []string) ([]string, bool) {
	changed := false
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			if isProtectedToken(strings.TrimSpace(tok)) {
				changed = true
			}
		}
	}
	if !changed {
		return values, false
	}
	var kept []string
	for _, v := range values {
		var toks []string
		for tok := range strings.SplitSeq(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" && !isProtectedToken(tok) {
				toks = append(toks, tok)
			}
		}
		if len(toks) > 0 {
			kept = append(kept, strings.Join(toks, ", "))
		}
	}
	return kept, true
}

func isProtectedToken(tok string) bool {
	return isKeygateHeader(tok) || strings.EqualFold(tok, "Authorization")
}

// credentialsStatus is what bearerToken found in the request.
type credentialsStatus int

const (
	credentialsOK credentialsStatus = iota
	// credentialsMissing: no Authorization header, an empty one, or
	// another scheme than Bearer.
	credentialsMissing
	// credentialsMalformed: several Authorization headers, or a Bearer
	// scheme without a token.
	credentialsMalformed
)

// bearerToken returns the token of the request's Authorization header,
// which must be the only one and hold `Bearer <token>` (the scheme in any
// case, one or more spaces, then the token). Whitespace (spaces and tabs)
// around the value is not part of it (RFC 9110 5.5): HTTP/1.1's parser
// strips it, HTTP/2's and HTTP/3's do not, so it is trimmed here and every
// protocol gets the same answer. It does not allocate.
func bearerToken(hdr http.Header) (string, credentialsStatus) {
	vals := hdr["Authorization"]
	switch {
	case len(vals) == 0:
		return "", credentialsMissing
	case len(vals) > 1:
		return "", credentialsMalformed
	}
	value := strings.Trim(vals[0], " \t")
	if value == "" {
		return "", credentialsMissing
	}
	scheme, token, _ := strings.Cut(value, " ")
	if scheme != "Bearer" && !strings.EqualFold(scheme, "Bearer") {
		return "", credentialsMissing
	}
	token = strings.TrimLeft(token, " ")
	if token == "" {
		return "", credentialsMalformed
	}
	// Any other byte that is not part of a credential, spaces included,
	// makes the runtime refuse the token as malformed.
	return token, credentialsOK
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
