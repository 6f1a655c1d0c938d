package caddymodule

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/keygate/keygate/gateway"
	"github.com/keygate/keygate/keystore"
	"github.com/keygate/keygate/token"
)

// refusal is one way of refusing a request: the response (RFC 6750) and the
// auth log entry. The client learns the status and the error code, never why
// a key is invalid; the log's reason says why.
type refusal struct {
	reason    string        // the auth log's `reason`
	status    int           // HTTP status
	challenge string        // WWW-Authenticate; "" for none
	body      string        // JSON body
	level     zapcore.Level // level of the auth log entry
}

const (
	challengeMissing  = `Bearer realm="keygate"`
	challengeInvalid  = `Bearer realm="keygate", error="invalid_token"`
	challengeScope    = `Bearer realm="keygate", error="insufficient_scope"`
	bodyMissing       = `{"error":"missing_credentials"}` + "\n"
	bodyInvalid       = `{"error":"invalid_token"}` + "\n"
	bodyScope         = `{"error":"insufficient_scope"}` + "\n"
	bodyUnavailable   = `{"error":"temporarily_unavailable"}` + "\n"
	bodyBadPath       = `{"error":"invalid_request"}` + "\n"
	retryAfterSeconds = "1"
)

// The refusals, one per auth log reason.
var (
	refuseMissing          = &refusal{"missing", http.StatusUnauthorized, challengeMissing, bodyMissing, zapcore.InfoLevel}
	refuseMalformed        = &refusal{"malformed", http.StatusUnauthorized, challengeInvalid, bodyInvalid, zapcore.InfoLevel}
	refuseUnknown          = &refusal{"unknown", http.StatusUnauthorized, challengeInvalid, bodyInvalid, zapcore.InfoLevel}
	refuseRevoked          = &refusal{"revoked", http.StatusUnauthorized, challengeInvalid, bodyInvalid, zapcore.WarnLevel}
	refuseExpired          = &refusal{"expired", http.StatusUnauthorized, challengeInvalid, bodyInvalid, zapcore.WarnLevel}
	refuseExchangeOnly     = &refusal{"exchange_only", http.StatusUnauthorized, challengeInvalid, bodyInvalid, zapcore.WarnLevel}
	refuseWrongIntegration = &refusal{"wrong_integration", http.StatusForbidden, challengeScope, bodyScope, zapcore.WarnLevel}
	refuseUnavailable      = &refusal{"store_unavailable", http.StatusServiceUnavailable, "", bodyUnavailable, zapcore.InfoLevel}
	// refuseBadPath: the request's path is ambiguous; no key was looked at.
	refuseBadPath = &refusal{"bad_path", http.StatusBadRequest, "", bodyBadPath, zapcore.InfoLevel}
)

// write sends the refusal's response. The request goes no further: neither
// the next handler nor Caddy's error routes run.
func (rf *refusal) write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(rf.body)))
	h.Set("Cache-Control", "no-store")
	if rf.challenge != "" {
		h.Set("WWW-Authenticate", rf.challenge)
	}
	if rf.status == http.StatusServiceUnavailable {
		h.Set("Retry-After", retryAfterSeconds)
	}
	w.WriteHeader(rf.status)
	_, _ = w.Write([]byte(rf.body))
}

// logRefusal writes the auth log entry of a refused request. cred is the
// key's record when one was found; pinned is the integration the route
// requires, for wrong_integration.
func (h *Handler) logRefusal(r *http.Request, rf *refusal, cred *keystore.Credential, pinned string, err error) {
	kind := ""
	if tok, st := bearerToken(r.Header); st == credentialsOK {
		kind = gateway.Kind(tok)
	}
	h.logRefusalOf(kind, r, rf, cred, pinned, err)
}

// logRefusalOf is logRefusal for a credential of this kind ("key",
// "token", or "" for none).
func (h *Handler) logRefusalOf(kind string, r *http.Request, rf *refusal, cred *keystore.Credential, pinned string, err error) {
	ce := h.logger.Check(rf.level, "request refused")
	if ce == nil {
		return
	}
	fields := make([]zap.Field, 0, 12)
	fields = append(fields, zap.String("reason", rf.reason))
	if kind != "" {
		fields = append(fields, zap.String("credential", kind))
	}
	if cred != nil && cred.KeyID != "" {
		fields = append(fields,
			zap.String("key_id", cred.KeyID),
			zap.String("key_name", cred.KeyName),
			zap.String("integration", cred.IntegrationID))
	}
	if rf == refuseWrongIntegration {
		fields = append(fields, zap.String("route_integration", pinned))
	}
	fields = h.appendRequestFields(fields, r)
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	ce.Write(fields...)
}

// logAllowed writes the debug entry of an authenticated request.
func (h *Handler) logAllowed(r *http.Request, cred *keystore.Credential, kind string) {
	ce := h.logger.Check(zapcore.DebugLevel, "request allowed")
	if ce == nil {
		return
	}
	fields := make([]zap.Field, 0, 11)
	fields = append(fields,
		zap.String("credential", kind),
		zap.String("key_id", cred.KeyID),
		zap.String("key_name", cred.KeyName),
		zap.String("integration", cred.IntegrationID))
	ce.Write(h.appendRequestFields(fields, r)...)
}

// appendRequestFields appends what the auth log says of the request. Never
// the Authorization header or any other header; and anything in the URI
// or Host that may be a key, or a piece of one, in any encoding, is
// redacted (see keystore.RedactKeys).
func (h *Handler) appendRequestFields(fields []zap.Field, r *http.Request) []zap.Field {
	remoteIP, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		remoteIP = r.RemoteAddr
	}
	fields = append(fields, zap.String("remote_ip", remoteIP))
	if clientIP, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && clientIP != "" {
		fields = append(fields, zap.String("client_ip", clientIP))
	}
	prefix := h.app.Prefix()
	return append(fields,
		zap.String("method", r.Method),
		zap.String("host", redactTokens(keystore.RedactKeys(r.Host, prefix))),
		zap.String("uri", redactTokens(keystore.RedactKeys(clientURI(r), prefix))))
}

// clientURI is the URI the client asked for, before any rewrite that ran
// ahead of the handler (handle_path, uri strip_prefix): what an on-call
// engineer searches the log for, as in Caddy's access log.
func clientURI(r *http.Request) string {
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.RequestURI != "" {
		return orig.RequestURI
	}
	return r.RequestURI
}

// redactTokens returns s with every access token in it, whole, replaced
// by `kgt_REDACTED`: after keystore.RedactKeys, the short pieces of a
// token between its '-', '_' and '.' would be left, and a token's header
// can be rebuilt.
func redactTokens(s string) string {
	if !strings.Contains(s, token.Prefix) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, token.Prefix)
		if i < 0 {
			break
		}
		end := i + len(token.Prefix)
		for end < len(s) && isTokenByte(s[end]) {
			end++
		}
		b.WriteString(s[:i+len(token.Prefix)])
		b.WriteString(keystore.RedactedKey)
		s = s[end:]
	}
	b.WriteString(s)
	return b.String()
}

// isTokenByte reports whether c can be part of an access token: base64url
// and the dots between a JWT's parts.
func isTokenByte(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '-' || c == '_' || c == '.'
}
