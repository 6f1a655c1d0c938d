package caddymodule

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/keygate/keygate/manage"
	"github.com/keygate/keygate/portal"
)

func init() {
	caddy.RegisterModule(Portal{})
}

// Portal is the management portal, http.handlers.keygate_portal: web pages
// over the keygate app's key store for integrations, keys, their usage and
// the audit trail (package portal). It authenticates no one itself: put
// basic_auth or forward_auth before it. It answers 403 to a request no
// earlier handler authenticated ({http.auth.user.id} empty); that user id
// is the actor of the audit entries of the changes made through it.
//
// Mount it under a path prefix with handle_path, which strips the
// prefix: the portal finds its links' prefix from the original request.
type Portal struct {
	// GatewayURL is the URL clients call an integration at, shown beside
	// its base URL and in the "try it" command; "{integration}" in it
	// becomes the integration's id, as for a route pinned by path.
	// Default: the scheme and host the portal is served on.
	GatewayURL string `json:"gateway_url,omitempty"`
	// CSRFSecret keys the CSRF tokens of the portal's forms: at least 32
	// bytes; {env.*} placeholders are resolved at provision time. Give
	// every instance behind one name the same secret. Default: a random
	// secret per process, kept across config reloads, so that a form
	// loaded from another instance or before a restart must be reloaded.
	CSRFSecret string `json:"csrf_secret,omitempty"`

	portal *portal.Portal
}

// CaddyModule returns the Caddy module information.
func (Portal) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.keygate_portal", New: func() caddy.Module { return new(Portal) }}
}

// processSecret is the default CSRF secret: random, one per process.
var processSecret = sync.OnceValue(func() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
})

// Provision binds the portal to the keygate app.
func (p *Portal) Provision(ctx caddy.Context) error {
	app, err := keygateApp(ctx)
	if err != nil {
		return err
	}
	secret := processSecret()
	if p.CSRFSecret != "" {
		secret = []byte(caddy.NewReplacer().ReplaceKnown(p.CSRFSecret, ""))
	}
	logger := ctx.Logger()
	ops := &portalOps{runtime: app.runtime, audit: caddy.Log().Named(manage.AuditLoggerName)}
	p.portal, err = portal.New(portal.Config{
		Ops: ops, Now: ops.runtime.Now, Secret: secret, GatewayURL: p.GatewayURL,
		OnError: func(r *http.Request, err error) {
			logger.Error("portal page failed", zap.String("uri", r.RequestURI), zap.Error(err))
		},
	})
	if err != nil {
		return fmt.Errorf("csrf_secret: %w", err)
	}
	return nil
}

// ServeHTTP serves a portal page to the user an earlier handler
// authenticated; it never calls next.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	var user string
	if repl != nil {
		user, _ = repl.GetString("http.auth.user.id")
	}
	p.portal.Serve(w, r, user, mountPath(r))
	return nil
}

// mountPath is the prefix handle_path stripped from the request's path:
// what the original path has before the path the portal sees.
func mountPath(r *http.Request) string {
	orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request)
	if !ok || orig.URL == nil {
		return ""
	}
	mount, found := strings.CutSuffix(orig.URL.Path, r.URL.Path)
	if !found {
		return ""
	}
	return mount
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Portal)(nil)
	_ caddyhttp.MiddlewareHandler = (*Portal)(nil)
)
