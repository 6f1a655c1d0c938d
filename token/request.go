package token

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// MaxRequestBytes bounds a token request's body.
const MaxRequestBytes = 8 << 10

// How a client authenticated at the token endpoint.
const (
	AuthBasic  = "client_secret_basic"
	AuthPost   = "client_secret_post"
	AuthBearer = "bearer"
)

// Client is a token request's client authentication, not yet checked:
// Secret is the key, ClientID the key id it claims (empty with Bearer when
// the form names none).
type Client struct {
	ID     string
	Secret string
	Method string
}

// ParseRequest reads an OAuth 2.0 client credentials token request (RFC
// 6749 4.4): a POST of an application/x-www-form-urlencoded body with
// grant_type=client_credentials, the client authenticated by exactly one of
// HTTP Basic (id and secret form-urlencoded, 2.3.1), client_id and
// client_secret in the body, or a Bearer key. It refuses repeated
// parameters and credentials in the URL, and returns the RFC 6749 5.2 error
// to answer with otherwise. It reads at most MaxRequestBytes of the body.
func ParseRequest(r *http.Request) (Client, *Error) {
	if r.Method != http.MethodPost {
		return Client{}, &Error{Status: http.StatusMethodNotAllowed, Code: "invalid_request", Description: "the token endpoint takes POST"}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return Client{}, invalidRequest("the body must be application/x-www-form-urlencoded")
	}
	if q := r.URL.Query(); q.Has("client_secret") || q.Has("client_id") || q.Has("grant_type") {
		return Client{}, invalidRequest("parameters belong in the body, not the URL")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes+1))
	if err != nil {
		return Client{}, invalidRequest("the body could not be read")
	}
	if len(body) > MaxRequestBytes {
		return Client{}, invalidRequest("the body is too large")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return Client{}, invalidRequest("the body is not form-urlencoded")
	}
	for name, vals := range form {
		if len(vals) > 1 {
			return Client{}, invalidRequest("parameter " + name + " is repeated")
		}
	}
	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		return Client{}, invalidRequest("grant_type is missing")
	default:
		return Client{}, &Error{Status: http.StatusBadRequest, Code: "unsupported_grant_type", Description: "only client_credentials is supported"}
	}
	return clientAuth(r.Header, form)
}

// clientAuth returns the one client authentication of the request.
func clientAuth(hdr http.Header, form url.Values) (Client, *Error) {
	auth := hdr.Values("Authorization")
	inForm := form.Has("client_secret")
	if len(auth) > 1 || (len(auth) == 1 && inForm) {
		return Client{}, invalidRequest("use one client authentication method")
	}
	if len(auth) == 0 {
		if !inForm {
			return Client{}, invalidClient("client authentication is missing")
		}
		c := Client{ID: form.Get("client_id"), Secret: form.Get("client_secret"), Method: AuthPost}
		if c.ID == "" || c.Secret == "" {
			return Client{}, invalidClient("client_id and client_secret are both needed")
		}
		return c, nil
	}
	scheme, rest, _ := strings.Cut(auth[0], " ")
	rest = strings.TrimLeft(rest, " ")
	switch {
	case strings.EqualFold(scheme, "Basic"):
		id, secret, err := decodeBasic(rest)
		if err != nil {
			return Client{}, invalidClient("malformed Basic credentials")
		}
		if formID := form.Get("client_id"); formID != "" && formID != id {
			return Client{}, invalidRequest("client_id differs from the Basic credentials")
		}
		return Client{ID: id, Secret: secret, Method: AuthBasic}, nil
	case strings.EqualFold(scheme, "Bearer"):
		if rest == "" {
			return Client{}, invalidClient("malformed Bearer credentials")
		}
		return Client{ID: form.Get("client_id"), Secret: rest, Method: AuthBearer}, nil
	}
	return Client{}, invalidClient("unsupported client authentication scheme")
}

// decodeBasic decodes Basic credentials whose id and secret are each
// form-urlencoded, as RFC 6749 2.3.1 wants (and as clients that skip the
// encoding send them too: a key has no character that encoding changes).
func decodeBasic(b64 string) (string, string, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", "", err
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errors.New("no colon")
	}
	if id, err = url.QueryUnescape(id); err != nil {
		return "", "", err
	}
	if secret, err = url.QueryUnescape(secret); err != nil {
		return "", "", err
	}
	if id == "" || secret == "" {
		return "", "", errors.New("empty id or secret")
	}
	return id, secret, nil
}
