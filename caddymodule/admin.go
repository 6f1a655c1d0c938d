package caddymodule

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// AdminAPI is keygate's part of Caddy's admin API. Caddy loads every
// module of the admin.api namespace by itself: it needs no config.
//
// Routes:
//
//	POST /keygate/cache/drop               drop every key from this instance's cache
//	POST /keygate/cache/drop?key_id=<id>   drop one key
//
// and the management routes of admin_manage.go. Both cache routes answer
// {"dropped": <number of cache entries>}. A dropped key is read
// from the store again on its next use, and refused with 503 while the
// store cannot answer: this is the operator's lever when the database
// itself is down and a key must stop working now.
type AdminAPI struct {
	// auditLogger receives the audit entries of the management routes;
	// nil: Caddy's logger named keygate.audit.
	auditLogger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.keygate",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Routes returns the admin routes keygate serves.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return append([]caddy.AdminRoute{
		{Pattern: "/keygate/cache/drop", Handler: caddy.AdminHandlerFunc(a.handleCacheDrop)},
	}, a.adminManageRoutes()...)
}

// runningKeygate returns the running keygate app, or an API error.
func runningKeygate() (*runningApp, error) {
	app := current.Load()
	if app == nil {
		return nil, caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: errors.New("no keygate app is running")}
	}
	return app, nil
}

// handleCacheDrop serves POST /keygate/cache/drop[?key_id=<id>].
func (*AdminAPI) handleCacheDrop(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed: use POST", r.Method)}
	}
	query := r.URL.Query()
	keyID := query.Get("key_id")
	if query.Has("key_id") && !keystore.ValidKeyID(keyID) {
		// Not echoed: it may be a key pasted by mistake.
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("invalid key_id: want a key id, %s followed by 20 letters or digits, never the key", keystore.KeyIDPrefix)}
	}
	app, err := runningKeygate()
	if err != nil {
		return err
	}
	dropped, err := app.runtime.Drop(keyID)
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
	}
	if keyID != "" {
		app.logger.Info("key dropped from the cache by the admin API", zap.String("key_id", keyID), zap.Int("dropped", dropped))
	} else {
		app.logger.Info("key cache dropped by the admin API", zap.Int("dropped", dropped))
	}
	return writeJSON(w, http.StatusOK, map[string]int{"dropped": dropped})
}

// Interface guards
var _ caddy.AdminRouter = (*AdminAPI)(nil)
