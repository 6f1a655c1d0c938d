package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/manage"
)

func init() {
	caddy.RegisterModule(RotateHandler{})
}

// rotateTimeout bounds one self-rotation's store work.
const rotateTimeout = 10 * time.Second

// RotateHandler lets a calling system roll its own key with that key
// (`Authorization: Bearer <key>`): `POST` rolls it and answers like `keygate
// keys rotate --json`, the old key working for its integration's rotate
// grace (1h by default); `GET` answers `{"id", "rotate_due", "due"}`, when
// the key is due by its rotation period. `keygate credential rotate` uses
// both. Refusals go to the auth log and count against the failed-auth
// limit like the keygate handler's; the rotation goes to the audit log.
type RotateHandler struct {
	edge Handler
}

// CaddyModule returns the Caddy module information.
func (RotateHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.keygate_rotate",
		New: func() caddy.Module { return new(RotateHandler) },
	}
}

// Provision gets the keygate app.
func (h *RotateHandler) Provision(ctx caddy.Context) error {
	app, err := keygateApp(ctx)
	if err != nil {
		return err
	}
	return h.edge.setup(app, authLogger())
}

// ServeHTTP answers GET and POST; it never calls next.
func (h *RotateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		return caddyhttp.Error(http.StatusMethodNotAllowed, nil)
	}
	app := h.edge.app
	if wait, blocked := app.blocked(r); blocked {
		return h.edge.refuseLimited(w, r, wait)
	}
	key, status := bearerToken(r.Header)
	switch status {
	case credentialsMissing:
		return h.edge.refuse(w, r, refuseMissing, nil, "", nil)
	case credentialsMalformed:
		return h.edge.refuse(w, r, refuseMalformed, nil, "", nil)
	}
	cred, err := app.auth.AuthenticateKey(r.Context(), key)
	if err != nil {
		rf := keyRefusal(err)
		if rf == refuseUnknown || rf == refuseMalformed || rf == refuseUnavailable {
			return h.edge.refuse(w, r, rf, nil, "", err)
		}
		return h.edge.refuse(w, r, rf, &cred, "", nil)
	}
	ctx, cancel := context.WithTimeout(r.Context(), rotateTimeout)
	defer cancel()
	rt := app.auth.CurrentRuntime()
	var result any
	err = rt.WithStore(func(s keystore.Store, _ func(string)) error {
		m := &manage.Manager{Store: s, Now: rt.Now, Bin: "keygate",
			Audit: &manage.Audit{Logger: caddy.Log().Named(manage.AuditLoggerName), Actor: "key:" + cred.KeyID}}
		if r.Method == http.MethodGet {
			st, err := m.KeyRotationStatus(ctx, cred.KeyID)
			result = st
			return err
		}
		rotated, err := m.RotateOwnKey(ctx, cred.KeyID, cred.IntegrationID)
		result = rotated.JSON()
		return err
	})
	if err != nil {
		h.edge.logger.Warn("self-rotation failed", zap.String("key_id", cred.KeyID), zap.Error(err))
		return caddyhttp.Error(http.StatusServiceUnavailable, err)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return json.NewEncoder(w).Encode(result)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*RotateHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*RotateHandler)(nil)
)
