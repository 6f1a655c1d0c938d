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

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
)

// The management routes of the admin API, the command line's operations
// over HTTP (see manager), on the running keygate app's store:
//
//	GET    /keygate/integrations                      list integrations
//	POST   /keygate/integrations                      add one: {"id": ..., "base_url": ...}
//	PATCH  /keygate/integrations/{id}                 change its base URL: {"base_url": ...}
//	DELETE /keygate/integrations/{id}[?force=true]    remove it and delete its keys
//	POST   /keygate/keys                              create a key: {"integration", "name", "expires_in"}
//	GET    /keygate/keys[?integration=&active=&revoked=&expired=]
//	GET    /keygate/keys/{id}                         show a key
//	POST   /keygate/keys/{id}/revoke                  revoke it
//	POST   /keygate/keys/{id}/rotate                  rotate it: {"grace": "1h"}
//	DELETE /keygate/keys/{id}                         delete it
//
// Answers are the JSON of the command line's --json; creating and rotating
// a key answer 201, and are the only answers that hold a key. Refusals are
// {"error": "..."}: 400 for bad input or malformed JSON, 404 for an unknown
// key or integration, 405 for a wrong method, 409 for a conflict (already
// revoked, integration in use or taken), 413 for a body over
// maxAdminBody, 503 when the store cannot answer. Every change writes an
// audit entry naming the caller's address.

// maxAdminBody bounds a request body of the management routes.
const maxAdminBody = 64 << 10

// adminManageRoutes returns the management routes.
func (a *AdminAPI) adminManageRoutes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/keygate/integrations", Handler: caddy.AdminHandlerFunc(a.handleIntegrations)},
		{Pattern: "/keygate/integrations/", Handler: caddy.AdminHandlerFunc(a.handleIntegration)},
		{Pattern: "/keygate/keys", Handler: caddy.AdminHandlerFunc(a.handleKeys)},
		{Pattern: "/keygate/keys/", Handler: caddy.AdminHandlerFunc(a.handleKey)},
	}
}

// handleIntegrations serves /keygate/integrations.
func (a *AdminAPI) handleIntegrations(w http.ResponseWriter, r *http.Request) error {
	return a.manage(w, r, func(ctx context.Context, m *manager) (int, any, error) {
		switch r.Method {
		case http.MethodGet:
			ins, err := m.listIntegrations(ctx)
			return http.StatusOK, integrationsJSON(ins), err
		case http.MethodPost:
			var body struct {
				ID      string `json:"id"`
				BaseURL string `json:"base_url"`
			}
			if err := decodeBody(w, r, &body); err != nil {
				return 0, nil, err
			}
			in, err := m.addIntegration(ctx, body.ID, body.BaseURL)
			return http.StatusCreated, integrationJSON(in), err
		}
		return 0, nil, methodNotAllowed(w, r, http.MethodGet, http.MethodPost)
	})
}

// handleIntegration serves /keygate/integrations/{id}.
func (a *AdminAPI) handleIntegration(w http.ResponseWriter, r *http.Request) error {
	id, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/keygate/integrations/"), "/")
	if rest != "" || id == "" {
		return notFoundRoute(r)
	}
	return a.manage(w, r, func(ctx context.Context, m *manager) (int, any, error) {
		switch r.Method {
		case http.MethodPatch:
			var body struct {
				BaseURL string `json:"base_url"`
			}
			if err := decodeBody(w, r, &body); err != nil {
				return 0, nil, err
			}
			in, err := m.setIntegrationURL(ctx, id, body.BaseURL)
			return http.StatusOK, integrationJSON(in), err
		case http.MethodDelete:
			force, err := boolParam(r, "force")
			if err != nil {
				return 0, nil, err
			}
			n, err := m.removeIntegration(ctx, id, force)
			return http.StatusOK, removedIntegration{ID: id, KeysDeleted: n}, err
		}
		return 0, nil, methodNotAllowed(w, r, http.MethodPatch, http.MethodDelete)
	})
}

// handleKeys serves /keygate/keys.
func (a *AdminAPI) handleKeys(w http.ResponseWriter, r *http.Request) error {
	return a.manage(w, r, func(ctx context.Context, m *manager) (int, any, error) {
		switch r.Method {
		case http.MethodGet:
			q := keyQuery{Integration: r.URL.Query().Get("integration")}
			for name, dst := range map[string]*bool{"active": &q.Active, "revoked": &q.Revoked, "expired": &q.Expired} {
				v, err := boolParam(r, name)
				if err != nil {
					return 0, nil, err
				}
				*dst = v
			}
			keys, err := m.listKeys(ctx, q)
			return http.StatusOK, keyViews(keys, m.now(), 0), err
		case http.MethodPost:
			var req keyRequest
			if err := decodeBody(w, r, &req); err != nil {
				return 0, nil, err
			}
			created, err := m.createKey(ctx, req)
			return http.StatusCreated, created.json(), err
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
	return a.manage(w, r, func(ctx context.Context, m *manager) (int, any, error) {
		switch {
		case action == "" && r.Method == http.MethodGet:
			k, err := m.showKey(ctx, id)
			return http.StatusOK, newKeyView(k, m.now(), 0), err
		case action == "" && r.Method == http.MethodDelete:
			k, err := m.deleteKey(ctx, id)
			return http.StatusOK, newKeyView(k, m.now(), 0), err
		case action == "":
			return 0, nil, methodNotAllowed(w, r, http.MethodGet, http.MethodDelete)
		case r.Method != http.MethodPost:
			return 0, nil, methodNotAllowed(w, r, http.MethodPost)
		case action == "revoke":
			k, err := m.revokeKey(ctx, id)
			return http.StatusOK, newKeyView(k, m.now(), 0), err
		}
		var body struct {
			Grace string `json:"grace"`
		}
		if err := decodeBody(w, r, &body); err != nil {
			return 0, nil, err
		}
		rotated, err := m.rotateKey(ctx, id, body.Grace)
		return http.StatusCreated, rotated.json(), err
	})
}

// manage runs op with the operations on the running app's store, in the
// name of the caller's address, and answers with its status and JSON
// result, or its error as an API error.
func (a *AdminAPI) manage(w http.ResponseWriter, r *http.Request, op func(ctx context.Context, m *manager) (int, any, error)) error {
	app, err := runningKeygate()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), commandTimeout)
	defer cancel()
	var status int
	var result any
	err = app.shared.withStore(func(s keystore.Store) error {
		m := &manager{store: s, now: app.shared.clock, bin: "keygate",
			audit: &auditLog{logger: a.audit(), actor: adminActor(r)}}
		status, result, err = op(ctx, m)
		return err
	})
	if err != nil {
		return apiError(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return writeJSON(w, result)
}

// audit returns the logger of the audit entries.
func (a *AdminAPI) audit() *zap.Logger {
	if a.auditLogger != nil {
		return a.auditLogger
	}
	return caddy.Log().Named(auditLoggerName)
}

// withStore runs fn with the store unless it is closed, holding off
// Destruct meanwhile.
func (s *sharedStore) withStore(fn func(keystore.Store) error) error {
	s.closing.RLock()
	defer s.closing.RUnlock()
	if s.closed {
		return fmt.Errorf("%w: %w", keystore.ErrStoreUnavailable, errStoreClosed)
	}
	return fn(s.store)
}

// adminActor names the caller of the admin API: its address, or the
// socket for a Unix socket.
func adminActor(r *http.Request) string {
	if r.RemoteAddr == "" || r.RemoteAddr == "@" {
		return "admin api (unix socket)"
	}
	return r.RemoteAddr
}

// apiError turns an operation's error into the admin API's answer.
func apiError(err error) error {
	var oe *opError
	var ae caddy.APIError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &oe):
		return caddy.APIError{HTTPStatus: oe.status, Err: oe}
	case unavailable(err):
		return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: err}
	}
	return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
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
