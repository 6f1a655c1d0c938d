package token

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Error is an RFC 6749 5.2 error answer. Description is safe for clients:
// it never says why a key was refused.
type Error struct {
	Status      int
	Code        string
	Description string
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func invalidRequest(desc string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: desc}
}

func invalidClient(desc string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "invalid_client", Description: desc}
}

// ErrInvalidClient answers a client whose credentials are refused, for
// whatever reason the log tells.
var ErrInvalidClient = invalidClient("client authentication failed")

// noStore sets the headers RFC 6749 5.1 wants on every token endpoint
// answer.
func noStore(h http.Header) {
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// WriteError answers with e. invalid_client carries the Basic challenge
// (RFC 6749 5.2) and 405 an Allow header.
func WriteError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	noStore(h)
	switch e.Status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Basic realm="keygate"`)
	case http.StatusMethodNotAllowed:
		h.Set("Allow", http.MethodPost)
	}
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{e.Code, e.Description})
}

// Response is a successful token answer (RFC 6749 5.1).
type Response struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// WriteToken answers with the token raw, which expires at exp.
func WriteToken(w http.ResponseWriter, raw string, exp, now time.Time) {
	noStore(w.Header())
	body, _ := json.Marshal(Response{AccessToken: raw, TokenType: "Bearer", ExpiresIn: int64(exp.Sub(now) / time.Second)})
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
