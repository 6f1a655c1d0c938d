package caddymodule

import (
	"fmt"
	"net"
	"sync"

	"github.com/keygate/keygate/keystore"
)

// target is where the requests of an integration go: its base URL, parsed
// once, with the placeholder values boxed once so that an authenticated
// request sets them without allocating.
type target struct {
	integration string
	baseURL     string
	// hostport is the dial address: host:port, the port defaulted from the
	// scheme.
	hostport string

	integrationVal, baseURLVal  any
	schemeVal, hostVal, pathVal any
}

// String names the target's integration, should the target be printed
// through the request's vars.
func (t *target) String() string { return t.integration }

// newTarget parses an integration's base URL.
func newTarget(integration, baseURL string) (*target, error) {
	u, err := keystore.ParseBaseURL(baseURL)
	if err != nil {
		// ParseBaseURL's message quotes the URL, which may carry
		// credentials: say which integration, not what its URL is.
		return nil, fmt.Errorf("integration %q has an invalid base URL", integration)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	hostport := net.JoinHostPort(u.Hostname(), port)
	return &target{
		integration:    integration,
		baseURL:        baseURL,
		hostport:       hostport,
		integrationVal: integration,
		baseURLVal:     baseURL,
		schemeVal:      u.Scheme,
		hostVal:        hostport,
		pathVal:        u.EscapedPath(),
	}, nil
}

// targetCache holds the parsed targets by integration id. It is bounded by
// the number of integrations, which only operators create.
type targetCache struct {
	m sync.Map // integration id -> *target
}

// get returns the target of cred's integration, parsing its base URL the
// first time it is seen or when it changed.
func (c *targetCache) get(cred *keystore.Credential) (*target, error) {
	if v, ok := c.m.Load(cred.IntegrationID); ok {
		if t := v.(*target); t.baseURL == cred.BaseURL {
			return t, nil
		}
	}
	t, err := newTarget(cred.IntegrationID, cred.BaseURL)
	if err != nil {
		return nil, err
	}
	c.m.Store(cred.IntegrationID, t)
	return t, nil
}

// Interface guards
var (
	_ fmt.Stringer = (*target)(nil)
)
