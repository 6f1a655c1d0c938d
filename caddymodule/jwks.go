package caddymodule

import (
	"net/http"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(JWKSHandler{})
}

// JWKSHandler serves the public keys of the access tokens' signing keys
// as an RFC 7517 JSON Web Key Set (OKP, Ed25519, each with its kid), so
// that an integration can verify a token forwarded to it (with
// forward_credentials) itself. A new signing key is listed at least two
// minutes before tokens are signed with it; the answer may be cached for
// a minute.
type JWKSHandler struct {
	app    *App
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (JWKSHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.keygate_jwks",
		New: func() caddy.Module { return new(JWKSHandler) },
	}
}

// Provision gets the keygate app.
func (h *JWKSHandler) Provision(ctx caddy.Context) error {
	app, err := keygateApp(ctx)
	if err != nil {
		return err
	}
	h.app, h.logger = app, ctx.Logger()
	return nil
}

// ServeHTTP answers GET and HEAD with the key set; it never calls next.
func (h *JWKSHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return caddyhttp.Error(http.StatusMethodNotAllowed, nil)
	}
	body, err := h.app.auth.CurrentRuntime().JWKS()
	if err != nil {
		h.logger.Error("cannot serve the token signing keys", zap.Error(err))
		return caddyhttp.Error(http.StatusServiceUnavailable, err)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/jwk-set+json")
	hdr.Set("Cache-Control", "public, max-age=60")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*JWKSHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*JWKSHandler)(nil)
)
