// Package portal is keygate's management web portal: server-rendered
// pages over the management operations, with no Caddy import. The Caddy
// handler keygate_portal authenticates nothing itself: it passes the user
// an earlier authentication handler set, and the portal refuses to serve
// without one.
//
// Every change is a POST with a CSRF token bound to the user (csrf.go) from
// a page of the same origin (http.CrossOriginProtection); pages carry a
// Content-Security-Policy without inline script (headers.go). Every action
// works without JavaScript: forms, POST-redirect-GET, and a confirmation
// page before each destructive action; portal.js only adds the copy button
// and confirmation dialogs.
package portal

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/keygate/keygate/keystore"
)

// Ops are the management operations the portal calls. Each change takes
// the actor, who the audit trail names.
type Ops interface {
	Integrations(ctx context.Context) ([]keystore.Integration, error)
	AddIntegration(ctx context.Context, actor, id, baseURL string) (keystore.Integration, error)
	SetIntegrationURL(ctx context.Context, actor, id, baseURL string) (keystore.Integration, error)
	RemoveIntegration(ctx context.Context, actor, id string) (int, error)

	// Keys returns one page of an integration's keys in creation order.
	Keys(ctx context.Context, integration string, limit, offset int) ([]keystore.Key, error)
	Key(ctx context.Context, id string) (keystore.Key, error)
	// CreateKey makes a key as req asks.
	CreateKey(ctx context.Context, actor string, req KeyRequest) (NewKey, error)
	// RotateKey makes the successor of key id and ends the old one after
	// grace (a lifetime, "0" for at once); it returns the new key and the
	// old one, confirmed with the gateways when it ended at once.
	RotateKey(ctx context.Context, actor, id, grace string) (NewKey, Change, error)
	RevokeKey(ctx context.Context, actor, id string) (Change, error)
	DeleteKey(ctx context.Context, actor, id string) (Change, error)
	// Gateways reads the fleet: every gateway recorded in the key store;
	// empty when the store keeps none.
	Gateways(ctx context.Context) (keystore.Fleet, error)

	// Usage returns key id's request counts from since on.
	Usage(ctx context.Context, id string, since time.Time) ([]keystore.UsageCount, error)
	Audit(ctx context.Context, f keystore.AuditFilter) ([]keystore.AuditEntry, error)

	// Explain says how to show an error of one of these operations.
	Explain(err error) Problem
}

// NewKey is a key just made: its record and the key itself, which the
// portal shows in exactly one response.
// KeyRequest is what Connect asks of a new key, as the form says it.
type KeyRequest struct {
	Integration, Name string
	// ExpiresIn and RotateEvery are lifetimes such as "30d", empty for
	// none (RotateEvery: the integration's period, if any).
	ExpiresIn, RotateEvery string
	// ExchangeOnly keys are refused at the edge and exchanged for access
	// tokens.
	ExchangeOnly bool
}

type NewKey struct {
	Key    keystore.Key
	Secret string
}

// Change is the result of a change that ends a key: revoking, deleting,
// or rotating it with grace 0.
type Change struct {
	Key keystore.Key
	// Confirmed, when not nil, says how many live gateways confirmed
	// that they refuse the key; nil when nothing was confirmed (the store
	// keeps no fleet, or the key keeps working for a grace).
	Confirmed *Confirmation
}

// Confirmation is how many of the live gateways applied a change that
// ended a key, how long the wait took, and which had not applied it.
type Confirmation struct {
	Live, Confirmed int
	Took            time.Duration
	// Missing names the live gateways that had not applied the change
	// when the wait ran out, each as "id (hostname)".
	Missing []string
}

// Done reports whether every live gateway applied the change.
func (c Confirmation) Done() bool { return c.Confirmed >= c.Live }

// Problem is an operation's error as the user reads it: the HTTP status,
// the form field at fault (empty: the form as a whole) and the message.
type Problem struct {
	Status  int
	Field   string
	Message string
}

// Portal serves the pages. Build it with New.
type Portal struct {
	ops    Ops
	now    func() time.Time
	csrf   csrfKey
	origin *http.CrossOriginProtection
	// gatewayURL is what clients call, with {integration} replaced; empty:
	// the portal's own origin.
	gatewayURL string
	onError    func(r *http.Request, err error)
	mux        *http.ServeMux
}

// Config is what New takes.
type Config struct {
	Ops Ops
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Secret keys the CSRF tokens: at least 32 bytes, shared by every
	// instance that serves the portal behind one name.
	Secret []byte
	// GatewayURL is the URL clients call an integration at, shown beside
	// its base URL; "{integration}" in it is replaced by the integration's
	// id. Empty: the origin the portal is served on.
	GatewayURL string
	// OnError hears of the errors that made a page fail with a 5xx, which
	// the page does not detail; nil: dropped.
	OnError func(r *http.Request, err error)
}

// New returns the portal.
func New(c Config) (*Portal, error) {
	key, err := newCSRFKey(c.Secret)
	if err != nil {
		return nil, err
	}
	p := &Portal{ops: c.Ops, now: c.Now, csrf: key, origin: http.NewCrossOriginProtection(),
		gatewayURL: c.GatewayURL, onError: c.OnError, mux: http.NewServeMux()}
	if p.now == nil {
		p.now = time.Now
	}
	if p.onError == nil {
		p.onError = func(*http.Request, error) {}
	}
	p.routes()
	return p, nil
}

// maxFormBytes bounds the body of a form the portal reads.
const maxFormBytes = 64 << 10

// userKey carries the authenticated user in a request's context.
type userKey struct{}

// mountKey carries the path the portal is mounted at.
type mountKey struct{}

// Serve answers r for user, who an earlier handler authenticated; an empty
// user gets 403. mount is the path prefix the portal's pages live under,
// as the client sees it ("" or "/portal"), for the links.
func (p *Portal) Serve(w http.ResponseWriter, r *http.Request, user, mount string) {
	setSecurityHeaders(w.Header())
	if user == "" {
		http.Error(w, "the keygate portal needs an authenticated user: put basic_auth or forward_auth before keygate_portal", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := p.origin.Check(r); err != nil {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		if err := r.ParseForm(); err != nil {
			status := http.StatusBadRequest
			if errors.As(err, new(*http.MaxBytesError)) {
				status = http.StatusRequestEntityTooLarge
			}
			http.Error(w, "the form could not be read: "+err.Error(), status)
			return
		}
		if !p.csrf.valid(r.PostFormValue("csrf"), user, p.now()) {
			http.Error(w, "the form's CSRF token is missing, expired or not yours: reload the page and try again", http.StatusForbidden)
			return
		}
	}
	ctx := context.WithValue(context.WithValue(r.Context(), userKey{}, user), mountKey{}, strings.TrimSuffix(mount, "/"))
	p.mux.ServeHTTP(w, r.WithContext(ctx))
}

// user returns the request's authenticated user.
func user(r *http.Request) string { s, _ := r.Context().Value(userKey{}).(string); return s }

// mount returns the path the portal is mounted at.
func mount(r *http.Request) string { s, _ := r.Context().Value(mountKey{}).(string); return s }
