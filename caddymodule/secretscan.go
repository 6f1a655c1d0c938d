package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/keygate/keygate/keystore/secretscan"
	"github.com/keygate/keygate/manage"
)

func init() {
	caddy.RegisterModule(SecretScanning{})
}

// Defaults of the secret-scanning endpoint's bounds.
const (
	defaultScanMaxBody   = 1 << 20
	defaultScanMaxTokens = 1000
	// scanTimeout bounds the work on one report, below GitHub's 30 s.
	scanTimeout = 20 * time.Second
)

// SecretScanning is the endpoint of GitHub's secret scanning partner
// program and of GitLab's leaked-credential notifications: the partner
// POSTs the keys it found in public code, and each one that is a valid
// keygate key is revoked at once.
//
// A report is a JSON array of {token, type, url, source}, signed with
// ECDSA P-256 over SHA-256 of the raw body: the base64 DER signature in
// Github-Public-Key-Signature (Gitlab-Public-Key-Signature) under the key
// named by Github-Public-Key-Identifier (Gitlab-Public-Key-Identifier).
// The signature is checked over the raw body before anything is parsed;
// a missing or invalid signature, or an unknown key identifier, is
// refused with 401 and changes nothing.
//
// Each token is then checked like a key at the edge — prefix, length,
// checksum — and a string that is not a keygate key is a false positive
// that costs no lookup. A valid key is revoked, with the audit actor
// `secret-scanning:github` (or `gitlab`) and the reported url and source
// in the audit entry, and dropped from this instance's cache before the
// answer; a key already revoked, expired or deleted is a true positive
// and is not revoked again, so a replayed report changes nothing. The
// answer is 200 with the partner feedback, one entry per token:
// [{"token_hash": <hex SHA-256>, "token_type": <type>, "label":
// "true_positive"|"false_positive"}]. The token itself is never logged:
// logs name the key id and the token's hash.
//
// Refusals are JSON {"error": ...}: 405 for another method than POST,
// 401 as above, 413 for a body over max_body_size, 400 for a malformed
// report or one with more than max_tokens tokens (nothing is revoked),
// 503 when the key store cannot answer (partners retry; a retry is
// harmless).
type SecretScanning struct {
	// The file of the partners' public keys, in the shape GitHub serves
	// them at https://api.github.com/meta/public_keys/secret_scanning:
	// {"public_keys": [{"key_identifier": ..., "key": "<PEM>", ...}]}.
	// GitHub's and GitLab's keys may share one file. The config is refused
	// if the file is unreadable or holds no valid ECDSA P-256 key. The
	// file is read again when it changes (its modification time or size),
	// so a partner's key rotation needs no reload; a change that leaves it
	// without a valid key is logged, and the keys read before stay in use.
	// Required.
	PublicKeys string `json:"public_keys,omitempty"`

	// The largest report body accepted, in bytes; a larger one is refused
	// with 413. Default: 1 MiB.
	MaxBodySize int64 `json:"max_body_size,omitempty"`

	// The most tokens one report may hold; a report with more is refused
	// with 400 and nothing is revoked. Default: 1000.
	MaxTokens int `json:"max_tokens,omitempty"`

	app    *App
	keys   *secretscan.KeyFile
	logger *zap.Logger
	audit  *zap.Logger
	// now is the clock of key expiry and revocation; the runtime's when
	// nil.
	now func() time.Time
}

// CaddyModule returns the Caddy module information.
func (SecretScanning) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.keygate_secret_scanning",
		New: func() caddy.Module { return new(SecretScanning) },
	}
}

// Provision reads the public keys file and gets the keygate app.
func (h *SecretScanning) Provision(ctx caddy.Context) error {
	app, err := keygateApp(ctx)
	if err != nil {
		return err
	}
	return h.setup(app, ctx.Logger(), caddy.Log().Named(manage.AuditLoggerName))
}

// setup checks the config, reads the public keys file and binds the
// handler to app.
func (h *SecretScanning) setup(app *App, logger, audit *zap.Logger) error {
	if h.PublicKeys == "" {
		return errors.New("keygate_secret_scanning: missing public_keys: the file of the partners' public keys")
	}
	if h.MaxBodySize < 0 || h.MaxTokens < 0 {
		return errors.New("keygate_secret_scanning: max_body_size and max_tokens must be positive")
	}
	if h.MaxBodySize == 0 {
		h.MaxBodySize = defaultScanMaxBody
	}
	if h.MaxTokens == 0 {
		h.MaxTokens = defaultScanMaxTokens
	}
	path := caddy.NewReplacer().ReplaceKnown(h.PublicKeys, "")
	keys, skipped, err := secretscan.OpenKeyFile(path)
	if err != nil {
		return fmt.Errorf("keygate_secret_scanning: %w", err)
	}
	h.app, h.keys, h.logger, h.audit = app, keys, logger, audit
	h.logSkipped(skipped)
	return nil
}

// ServeHTTP verifies the report, revokes the valid keys it holds and
// answers the feedback. It never calls next.
func (h *SecretScanning) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return scanRefuse(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: use POST")
	}
	partner, err := secretscan.SignedBy(r.Header)
	if err != nil {
		h.logRefused(r, "", "", err)
		return scanRefuse(w, http.StatusUnauthorized, err.Error())
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.MaxBodySize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return scanRefuse(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("report larger than %d bytes", h.MaxBodySize))
		}
		return scanRefuse(w, http.StatusBadRequest, "reading the report: "+err.Error())
	}
	keyID := r.Header.Get(partner.IdentifierHeader)
	if err := h.currentKeys().Verify(keyID, r.Header.Get(partner.SignatureHeader), body); err != nil {
		h.logRefused(r, partner.Name, keyID, err)
		return scanRefuse(w, http.StatusUnauthorized, err.Error())
	}
	matches, err := secretscan.ParseReport(body, h.MaxTokens)
	if err != nil {
		return scanRefuse(w, http.StatusBadRequest, err.Error())
	}
	ctx, cancel := context.WithTimeout(r.Context(), scanTimeout)
	defer cancel()
	feedback, revoked, err := h.handleReport(ctx, partner, matches)
	if err != nil {
		h.logger.Error("secret-scanning report not fully handled", zap.String("partner", partner.Name), zap.Error(err))
		w.Header().Set("Retry-After", retryAfterSeconds)
		return scanRefuse(w, http.StatusServiceUnavailable, "the key store cannot answer: try again")
	}
	h.logger.Info("secret-scanning report handled", zap.String("partner", partner.Name),
		zap.Int("tokens", len(matches)), zap.Int("revoked", revoked), zap.String("remote_ip", remoteIP(r)))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(feedback)
}

// clock returns now.
func (h *SecretScanning) clock() time.Time {
	if h.now != nil {
		return h.now()
	}
	return h.app.runtime.Now()
}

// currentKeys returns the public keys, read again if the file changed.
func (h *SecretScanning) currentKeys() secretscan.PublicKeys {
	keys, changed, skipped, err := h.keys.Keys()
	switch {
	case err != nil:
		h.logger.Error("cannot use the changed public keys file", zap.String("path", h.keys.Path()), zap.Error(err))
	case changed:
		h.logger.Info("public keys file read again", zap.String("path", h.keys.Path()), zap.Int("keys", len(keys)))
	}
	h.logSkipped(skipped)
	return keys
}

// logSkipped warns about the entries of the public keys file left out.
func (h *SecretScanning) logSkipped(skipped []string) {
	for _, s := range skipped {
		h.logger.Warn("public key left out", zap.String("path", h.keys.Path()), zap.String("problem", s))
	}
}

// logRefused logs a report refused for its signature.
func (h *SecretScanning) logRefused(r *http.Request, partner, keyID string, err error) {
	h.logger.Warn("secret-scanning report refused", zap.String("partner", partner),
		zap.String("key_identifier", keyID), zap.String("remote_ip", remoteIP(r)), zap.Error(err))
}

// scanRefuse answers a refusal as {"error": msg}.
func scanRefuse(w http.ResponseWriter, status int, msg string) error {
	body, err := json.Marshal(map[string]string{"error": msg})
	if err != nil {
		return err
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*SecretScanning)(nil)
	_ caddyhttp.MiddlewareHandler = (*SecretScanning)(nil)
)

// remoteIP is the address of the request's peer, without the port.
func remoteIP(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ip
}
