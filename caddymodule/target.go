package caddymodule

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"

	"github.com/keygate/keygate/keystore"
)

// target is where the requests of an integration go: its base URL, parsed
// once, with the placeholder values boxed once so that an authenticated
// request sets them without allocating.
type target struct {
	integration string
	baseURL     string
	// scheme is http or https.
	scheme string
	// hostport is the dial address: host:port, the port defaulted from the
	// scheme.
	hostport string
	// host is the upstream request's Host: the base URL's host, with its
	// port unless it is the scheme's default.
	host string
	// path and rawPath are the base URL's path, decoded and as sent,
	// without trailing slash; empty for none.
	path, rawPath string

	integrationVal, baseURLVal  any
	schemeVal, hostVal, pathVal any
}

// String names the target's integration, should the target be printed
// through the request's vars.
func (t *target) String() string { return t.integration }

// errAdminTarget refuses a base URL that points at the gateway's own
// admin endpoint.
var errAdminTarget = errors.New("its base URL points at this gateway's admin endpoint")

// newTarget parses an integration's base URL, refusing one that points at
// an address of admin.
func newTarget(integration, baseURL string, admin *adminEndpoints) (*target, error) {
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
	host := u.Host
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		host = u.Hostname()
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	if admin.reaches(u.Hostname(), port) {
		return nil, fmt.Errorf("integration %q: %w", integration, errAdminTarget)
	}
	hostport := net.JoinHostPort(u.Hostname(), port)
	return &target{
		integration:    integration,
		baseURL:        baseURL,
		scheme:         u.Scheme,
		hostport:       hostport,
		host:           host,
		path:           u.Path,
		rawPath:        u.EscapedPath(),
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
	m     sync.Map // integration id -> *target
	admin *adminEndpoints
}

// get returns the target of cred's integration, parsing its base URL the
// first time it is seen or when it changed.
func (c *targetCache) get(cred *keystore.Credential) (*target, error) {
	if v, ok := c.m.Load(cred.IntegrationID); ok {
		if t := v.(*target); t.baseURL == cred.BaseURL {
			return t, nil
		}
	}
	t, err := newTarget(cred.IntegrationID, cred.BaseURL, c.admin)
	if err != nil {
		return nil, err
	}
	c.m.Store(cred.IntegrationID, t)
	return t, nil
}

// adminEndpoints are the TCP addresses Caddy's admin endpoints listen on,
// which no integration may point at: with the right Host, a proxied
// request would pass the admin endpoint's host check and read or change
// the gateway's config.
type adminEndpoints struct {
	addrs []caddy.NetworkAddress
}

// adminEndpointsOf returns the admin endpoints of the config ctx loads:
// its `admin` listen address (Caddy's default, CADDY_ADMIN or
// localhost:2019, if it names none) and its remote admin address, if any.
//
// Caddy exports no accessor for the config of a Context, so its admin
// section is read, without writing anything, through reflection; should a
// Caddy version change that, the default address is still guarded and
// TestAdminEndpointsOfConfig fails.
func adminEndpointsOf(ctx caddy.Context) *adminEndpoints {
	listen, remote, disabled := "", "", false
	if cfg := reflect.ValueOf(ctx).FieldByName("cfg"); cfg.IsValid() && !cfg.IsNil() {
		if admin := cfg.Elem().FieldByName("Admin"); admin.IsValid() && !admin.IsNil() {
			disabled = admin.Elem().FieldByName("Disabled").Bool()
			listen = admin.Elem().FieldByName("Listen").String()
			if r := admin.Elem().FieldByName("Remote"); r.IsValid() && !r.IsNil() {
				remote = r.Elem().FieldByName("Listen").String()
				if remote == "" {
					remote = caddy.DefaultRemoteAdminListen
				}
			}
		}
	}
	a := new(adminEndpoints)
	if !disabled {
		if listen == "" {
			listen = caddy.DefaultAdminListen
		}
		a.add(listen)
	}
	if remote != "" {
		a.add(remote)
	}
	return a
}

// add adds the admin listen address addr, unless it is not TCP.
func (a *adminEndpoints) add(addr string) {
	na, err := caddy.ParseNetworkAddress(caddy.NewReplacer().ReplaceAll(addr, ""))
	if err != nil || na.IsUnixNetwork() || na.IsFdNetwork() {
		return
	}
	a.addrs = append(a.addrs, na)
}

// reaches reports whether a connection to host:port could reach an admin
// endpoint: the port is an admin port and the host is the admin's own
// host, a loopback name or address, or, for an admin that listens on every
// interface, an address of this machine.
func (a *adminEndpoints) reaches(host, port string) bool {
	if a == nil {
		return false
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return false
	}
	for _, na := range a.addrs {
		if uint64(na.StartPort) > p || p > uint64(na.EndPort) {
			continue
		}
		if strings.EqualFold(host, na.Host) || isLoopbackHost(host) {
			return true
		}
		if ip, err := netip.ParseAddr(na.Host); (na.Host == "" || err == nil && ip.IsUnspecified()) && isLocalAddress(host) {
			return true
		}
	}
	return false
}

// isLoopbackHost reports whether host is localhost, a name under
// .localhost, or a loopback or unspecified address.
func isLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// isLocalAddress reports whether host is an address of one of this
// machine's interfaces.
func isLocalAddress(host string) bool {
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return false
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if local, ok := netip.AddrFromSlice(n.IP); ok && local.Unmap() == ip.Unmap() {
				return true
			}
		}
	}
	return false
}

// Interface guards
var (
	_ fmt.Stringer = (*target)(nil)
)
