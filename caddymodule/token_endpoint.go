package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/token"
)

func init() {
	caddy.RegisterModule(TokenHandler{})
}

// TokenHandler is an OAuth 2.0 token endpoint (RFC 6749 4.4, client
// credentials): a client POSTs grant_type=client_credentials,
// authenticated with its Access Key (HTTP Basic with the key's id as
// client_id and the key as client_secret, or both in the form, or
// `Authorization: Bearer <key>`), and gets a short-lived access token,
// `kgt_` + a JWT signed by the gateways' signing key, that the keygate
// handler accepts wherever it accepts keys. Exchange-only keys work here
// and nowhere else. Errors are RFC 6749 5.2's; refusals go to the auth log
// and count against the failed-auth limit like the keygate handler's.
type TokenHandler struct {
	// How long the tokens issued here live, at most the keygate app's
	// max_token_ttl. Default: 15m.
	TokenTTL caddy.Duration `json:"token_ttl,omitempty"`

	edge Handler // for the auth log and the limiter
}

// CaddyModule returns the Caddy module information.
func (TokenHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.keygate_token",
		New: func() caddy.Module { return new(TokenHandler) },
	}
}

// Provision gets the keygate app and checks token_ttl against it.
func (h *TokenHandler) Provision(ctx caddy.Context) error {
	a, err := keygateApp(ctx)
	if err != nil {
		return err
	}
	if h.TokenTTL == 0 {
		h.TokenTTL = caddy.Duration(token.DefaultTTL)
	}
	switch {
	case h.TokenTTL < caddy.Duration(time.Second):
		return fmt.Errorf("token_ttl must be at least 1s, got %s", time.Duration(h.TokenTTL))
	case h.TokenTTL > a.MaxTokenTTL:
		return fmt.Errorf("token_ttl %s is longer than the keygate app's max_token_ttl %s", time.Duration(h.TokenTTL), time.Duration(a.MaxTokenTTL))
	}
	if a.SigningKeySecret == "" {
		ctx.Logger().Warn("token signing keys are stored unsealed: whoever can read the key store can issue access tokens; set signing_key_secret in the keygate global options")
	}
	return h.edge.setup(a, authLogger())
}

// ServeHTTP answers a token request; it never calls next.
func (h *TokenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	app := h.edge.app
	if wait, blocked := app.blocked(r); blocked {
		w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSecs(wait), 10))
		h.refuse(w, r, refuseRateLimited, nil, nil, &token.Error{Status: http.StatusTooManyRequests, Code: "too_many_failed_attempts"})
		return nil
	}
	client, e := token.ParseRequest(r)
	if e != nil {
		rf := refuseMalformed
		if e.Status != http.StatusUnauthorized {
			rf = nil // a bad request, not a failed authentication
		}
		h.refuse(w, r, rf, nil, nil, e)
		return nil
	}
	cred, err := app.auth.AuthenticateKey(r.Context(), client.Secret)
	if err == nil && client.ID != "" && client.ID != cred.KeyID {
		cred, err = keystore.Credential{}, keystore.ErrUnknownKey // a key with another key's id
	}
	if err != nil {
		rf := keyRefusal(err)
		answer := token.ErrInvalidClient
		if rf == refuseUnavailable {
			w.Header().Set("Retry-After", retryAfterSeconds)
			answer = &token.Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable"}
		}
		h.refuse(w, r, rf, &cred, err, answer)
		return nil
	}
	raw, claims, err := app.auth.MintToken(cred, time.Duration(h.TokenTTL))
	if err != nil {
		h.edge.logger.Error("cannot issue access token", zap.String("key_id", cred.KeyID), zap.Error(err))
		w.Header().Set("Retry-After", retryAfterSeconds)
		token.WriteError(w, &token.Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable"})
		return nil
	}
	metrics.tokensIssued.Inc()
	h.edge.logger.Info("access token issued",
		zap.String("key_id", cred.KeyID), zap.String("key_name", cred.KeyName), zap.String("integration", cred.IntegrationID),
		zap.String("credential", "key"), zap.String("jti", claims.ID), zap.Time("expires_at", claims.ExpiresAt()),
		zap.String("client_auth", client.Method))
	token.WriteToken(w, raw, claims.ExpiresAt(), time.Unix(claims.IssuedAt, 0))
	return nil
}

// refuse logs a refused token request (rf nil: a malformed request,
// logged at debug) and answers it with answer.
func (h *TokenHandler) refuse(w http.ResponseWriter, r *http.Request, rf *refusal, cred *keystore.Credential, err error, answer *token.Error) {
	if rf != nil {
		h.edge.logRefusalOf("key", r, rf, cred, "", err)
		h.edge.app.noteRefusal(r, rf)
	} else {
		h.edge.logger.Debug("bad token request", zap.String("error", answer.Code), zap.String("description", answer.Description))
	}
	token.WriteError(w, answer)
}

// keyRefusal is the auth log refusal of a key that Authenticate refused
// with err.
func keyRefusal(err error) *refusal {
	switch {
	case errors.Is(err, keystore.ErrMalformed):
		return refuseMalformed
	case errors.Is(err, keystore.ErrUnknownKey):
		return refuseUnknown
	case errors.Is(err, keystore.ErrRevoked):
		return refuseRevoked
	case errors.Is(err, keystore.ErrExpired):
		return refuseExpired
	case errors.Is(err, keystore.ErrExchangeOnly):
		return refuseExchangeOnly
	}
	return refuseUnavailable
}

// Interface guards
var (
	_ caddy.Provisioner           = (*TokenHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*TokenHandler)(nil)
)

// authLogger is the auth log's logger, which the token and rotation
// endpoints write their refusals to as the keygate handler does, so that
// one query of the log finds them all.
func authLogger() *zap.Logger { return caddy.Log().Named("http.handlers.keygate") }
