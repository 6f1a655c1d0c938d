package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/manage"
)

// The management routes of the admin API, manage's operations over HTTP,
// on the running keygate app's store:
//
//	GET    /keygate/integrations                      list integrations
//	POST   /keygate/integrations                      add one: {"id": ..., "base_url": ...}
//	PATCH  /keygate/integrations/{id}                 change its base URL: {"base_url": ...}
//	PUT    /keygate/integrations/{id}/rotation        set its keys' rotation: {"rotate_every": "30d", "rotate_grace": "1h"}
//	DELETE /keygate/integrations/{id}[?force=true]    remove it and delete its keys
//	POST   /keygate/keys                              create a key: {"integration", "name", "expires_in", "exchange_only", "rotate_every"}
//	GET    /keygate/keys[?integration=&active=&revoked=&expired=]
//	GET    /keygate/keys/{id}                         show a key
//	POST   /keygate/keys/{id}/revoke                  revoke it
//	POST   /keygate/keys/{id}/rotate                  rotate it: {"grace": "1h"}
//	DELETE /keygate/keys/{id}                         delete it
//	GET    /keygate/gateways                          the fleet (see admin_confirm.go)
//	GET    /keygate/audit[?key=&integration=&actor=&before=&limit=]   the stored audit trail (admin_audit.go)
//
// Revoking, deleting, rotating with grace 0 and removing an integration
// wait for every live gateway to apply the change: see admin_confirm.go.
// Answers are manage's JSON views, as the command line's --json prints
// them; creating and rotating
// a key answer 201, and are the only answers that hold a key. Refusals are
// {"error": "..."}: 400 for bad input or malformed JSON, 404 for an unknown
// key or integration, 405 for a wrong method, 409 for a conflict (already
// revoked, integration in use or taken), 413 for a body over
// maxAdminBody, 503 when the store cannot answer. Every change writes an
// audit entry naming the caller's address.

// maxAdminBody bounds a request body of the management routes.
const maxAdminBody = 64 << 10

// adminTimeout bounds one management request.
const adminTimeout = 30 * time.Second

// adminManageRoutes returns the management routes.
func (a *AdminAPI) adminManageRoutes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/keygate/integrations", Handler: caddy.AdminHandlerFunc(a.handleIntegrations)},
		{Pattern: "/keygate/integrations/", Handler: caddy.AdminHandlerFunc(a.handleIntegration)},
		{Pattern: "/keygate/keys", Handler: caddy.AdminHandlerFunc(a.handleKeys)},
		{Pattern: "/keygate/keys/", Handler: caddy.AdminHandlerFunc(a.handleKey)},
		{Pattern: "/keygate/gateways", Handler: caddy.AdminHandlerFunc(a.handleGateways)},
		{Pattern: "/keygate/audit", Handler: caddy.AdminHandlerFunc(a.handleAudit)},
	}
}

// handleIntegrations serves /keygate/integrations.
func (a *AdminAPI) handleIntegrations(w http.ResponseWriter, r *http.Request) error {
	return a.manage(w, r, func(ctx context.Context, m *manage.Manager) (int, any, error) {
		switch r.Method {
		case http.MethodGet:
			ins, err := m.ListIntegrations(ctx)
			return http.StatusOK, manage.IntegrationsJSON(ins), err
		case http.MethodPost:
			var body struct {
				ID          string `json:"id"`
				BaseURL     string `json:"base_url"`
				RotateEvery string `json:"rotate_every"`
				RotateGrace string `json:"rotate_grace"`
			}
			if err := decodeBody(w, r, &body); err != nil {
				return 0, nil, err
			}
			in, err := m.AddIntegration(ctx, body.ID, body.BaseURL, body.RotateEvery, body.RotateGrace)
			return http.StatusCreated, manage.IntegrationJSON(in), err
		}
		return 0, nil, methodNotAllowed(w, r, http.MethodGet, http.MethodPost)
	})
}

// handleIntegration serves /keygate/integrations/{id} and
// /keygate/integrations/{id}/rotation.
func (a *AdminAPI) handleIntegration(w http.ResponseWriter, r *http.Request) error {
	id, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/keygate/integrations/"), "/")
	if id == "" || (rest != "" && rest != "rotation") {
		return notFoundRoute(r)
	}
	if rest == "rotation" {
		return a.handleIntegrationRotation(w, r, id)
	}
	return a.manage(w, r, func(ctx context.Context, m *manage.Manager) (int, any, error) {
		switch r.Method {
		case http.MethodPatch:
			var body struct {
				BaseURL string `json:"base_url"`
			}
			if err := decodeBody(w, r, &body); err != nil {
				return 0, nil, err
			}
			in, err := m.SetIntegrationURL(ctx, id, body.BaseURL)
			return http.StatusOK, manage.IntegrationJSON(in), err
		case http.MethodDelete:
			force, err := boolParam(r, "force")
			if err != nil {
				return 0, nil, err
			}
			n, err := m.RemoveIntegration(ctx, id, force)
			if err != nil {
				return 0, nil, err
			}
			return confirmed(ctx, r, m, "", http.StatusOK, manage.RemovedIntegration{ID: id, KeysDeleted: n})
		}
		return 0, nil, methodNotAllowed(w, r, http.MethodPatch, http.MethodDelete)
	})
}

// handleIntegrationRotation serves /keygate/integrations/{id}/rotation:
// a PUT sets both settings, as `integrations set-rotation` does.
func (a *AdminAPI) handleIntegrationRotation(w http.ResponseWriter, r *http.Request, id string) error {
	return a.manage(w, r, func(ctx context.Context, m *manage.Manager) (int, any, error) {
		if r.Method != http.MethodPut {
			return 0, nil, methodNotAllowed(w, r, http.MethodPut)
		}
		var body struct {
			RotateEvery string `json:"rotate_every"`
			RotateGrace string `json:"rotate_grace"`
		}
		if err := decodeBody(w, r, &body); err != nil {
			return 0, nil, err
		}
		in, err := m.SetIntegrationRotation(ctx, id, body.RotateEvery, body.RotateGrace)
		return http.StatusOK, manage.IntegrationJSON(in), err
	})
}

// handleKeys serves /keygate/keys.
func (a *AdminAPI) handleKeys(w http.ResponseWriter, r *http.Request) error {
	return a.manage(w, r, func(ctx context.Context, m *manage.Manager) (int, any, error) {
		switch r.Method {
		case http.MethodGet:
			q := manage.KeyQuery{Integration: r.URL.Query().Get("integration")}
			for name, dst := range map[string]*bool{"active": &q.Active, "revoked": &q.Revoked, "expired": &q.Expired} {
				v, err := boolParam(r, name)
				if err != nil {
					return 0, nil, err
				}
				*dst = v
			}
			keys, err := m.ListKeys(ctx, q)
			return http.StatusOK, manage.KeyViews(keys, m.Now(), 0), err
		case http.MethodPost:
			var req manage.KeyRequest
			if err := decodeBody(w, r, &req); err != nil {
				return 0, nil, err
			}
			created, err := m.CreateKey(ctx, req)
			return http.StatusCreated, created.JSON(), err
		}
		return 0, nil, methodNotAllowed(w, r, http.MethodGet, http.MethodPost)
	})
}

// handleKey serves /keygate/keys/{id}, /keygate/keys/{id}/revoke and
// /keygate/keys/{id}/rotate.
func (a *AdminAPI) handleKey(w http.ResponseWriter, r *http.Request) error {
	id, action, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/keygate/keys/"), "/")
	if id == "" || (action != "" && action != "revoke" && action != "rotate") {
		return notFoundRoute(r)
	}
	return a.manage(w, r, func(ctx context.Context, m *manage.Manager) (int, any, error) {
		switch {
		case action == "" && r.Method == http.MethodGet:
			k, err := m.ShowKey(ctx, id)
			return http.StatusOK, manage.NewKeyView(k, m.Now(), 0), err
		case action == "" && r.Method == http.MethodDelete:
			k, err := m.DeleteKey(ctx, id)
			if err != nil {
				return 0, nil, err
			}
			return confirmed(ctx, r, m, id, http.StatusOK, manage.NewKeyView(k, m.Now(), 0))
		case action == "":
			return 0, nil, methodNotAllowed(w, r, http.MethodGet, http.MethodDelete)
		case r.Method != http.MethodPost:
			return 0, nil, methodNotAllowed(w, r, http.MethodPost)
		case action == "revoke":
			k, err := m.RevokeKey(ctx, id)
			if err != nil {
				return 0, nil, err
			}
			return confirmed(ctx, r, m, id, http.StatusOK, manage.NewKeyView(k, m.Now(), 0))
		}
		var body struct {
			Grace string `json:"grace"`
		}
		if err := decodeBody(w, r, &body); err != nil {
			return 0, nil, err
		}
		rotated, err := m.RotateKey(ctx, id, body.Grace)
		if err != nil || !rotated.EndsNow() {
			return http.StatusCreated, rotated.JSON(), err
		}
		return confirmed(ctx, r, m, id, http.StatusCreated, rotated.JSON())
	})
}

// manage runs op with the operations on the running app's store, in the
// name of the caller's address, and answers with its status and JSON
// result, or its error as an API error.
func (a *AdminAPI) manage(w http.ResponseWriter, r *http.Request, op func(ctx context.Context, m *manage.Manager) (int, any, error)) error {
	app, err := runningKeygate()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), adminTimeout)
	defer cancel()
	var status int
	var result any
	err = app.runtime.WithStore(func(s keystore.Store, drop func(keyID string)) error {
		m := &manage.Manager{Store: s, Now: app.runtime.Now, Bin: "keygate", Drop: drop,
			Audit: &manage.Audit{Logger: a.audit(), Actor: adminActor(r), Store: s, Now: app.runtime.Now}}
		status, result, err = op(ctx, m)
		return err
	})
	if err != nil {
		return apiError(err)
	}
	return writeJSON(w, status, result)
}

// audit returns the logger of the audit entries.
func (a *AdminAPI) audit() *zap.Logger {
	if a.auditLogger != nil {
		return a.auditLogger
	}
	return caddy.Log().Named(manage.AuditLoggerName)
}

// adminActor names the caller of the admin API: its address, or the
// socket for a Unix socket.
func adminActor(r *http.Request) string {
	if r.RemoteAddr == "" || r.RemoteAddr == "@" {
		return "admin api (unix socket)"
	}
	return r.RemoteAddr
}

// apiError turns an operation's error into the admin API's answer. A
// manage.Error names its field by its JSON name, and says nothing of the
// command line's hint.
func apiError(err error) error {
	var ae caddy.APIError
	if errors.As(err, &ae) {
		return ae
	}
	if e, ok := manage.AsError(err); ok {
		return caddy.APIError{HTTPStatus: kindStatus[e.Kind], Err: e}
	}
	if errors.Is(err, keystore.ErrStoreUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
	}
	return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
}

// kindStatus is the answer to each kind of manage.Error.
var kindStatus = map[manage.Kind]int{
	manage.Invalid:  http.StatusBadRequest,
	manage.NotFound: http.StatusNotFound,
	manage.Conflict: http.StatusConflict,
}

// writeJSON answers status with v as indented JSON.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// decodeBody reads a JSON object of at most maxAdminBody bytes into v,
// refusing unknown fields and trailing data.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return caddy.APIError{HTTPStatus: http.StatusRequestEntityTooLarge,
			Err: fmt.Errorf("request body larger than %d bytes", maxAdminBody)}
	}
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("reading the request body: %w", err)}
	}
	if name, dup := duplicateField(data); dup {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest,
			Err: fmt.Errorf("malformed JSON body: field %q appears more than once", name)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
		err = errors.New("more than one JSON value")
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF):
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New("missing JSON body")}
	}
	return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("malformed JSON body: %w", err)}
}

// boolParam reads an optional boolean query parameter.
func boolParam(r *http.Request, name string) (bool, error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return false, nil
	}
	v := q.Get(name)
	if v == "" {
		return true, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, caddy.APIError{HTTPStatus: http.StatusBadRequest,
			Err: fmt.Errorf("invalid %s=%q: want true or false", name, v)}
	}
	return b, nil
}

// methodNotAllowed is the 405 answer, with the methods allowed.
func methodNotAllowed(w http.ResponseWriter, r *http.Request, allowed ...string) error {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed,
		Err: fmt.Errorf("method %s not allowed here: use %s", r.Method, strings.Join(allowed, " or "))}
}

// notFoundRoute is the 404 answer for a path no route serves. It does not
// echo the path: a key may have been pasted into it.
func notFoundRoute(r *http.Request) error {
	return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("no such route: see the routes under /keygate/ in the documentation")}
}
