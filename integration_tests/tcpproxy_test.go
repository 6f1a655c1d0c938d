package integration_tests

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// tcpProxy forwards connections from a port of 127.0.0.1 to a target
// address, until cut: then every connection through it breaks and new
// ones are refused, like a database that went away.
type tcpProxy struct {
	listener net.Listener
	target   string

	mu    sync.Mutex
	conns []net.Conn
	cut   bool
	wg    sync.WaitGroup
}

// newTCPProxy starts forwarding to target (host:port); it is cut when t
// ends.
func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting the TCP proxy: %v", err)
	}
	p := &tcpProxy{listener: l, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Cut)
	return p
}

// Addr returns the proxy's address, host:port.
func (p *tcpProxy) Addr() string { return p.listener.Addr().String() }

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return // cut
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		if !p.track(client, server) {
			return
		}
		p.wg.Add(2)
		go p.pipe(client, server)
		go p.pipe(server, client)
	}
}

// track records a pair of connections, or closes them if the proxy was cut
// meanwhile.
func (p *tcpProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	p.conns = append(p.conns, conns...)
	return true
}

func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// Cut closes the port and every connection through it, and waits until
// nothing is forwarded any more.
func (p *tcpProxy) Cut() {
	p.mu.Lock()
	if !p.cut {
		p.cut = true
		p.listener.Close()
		for _, c := range p.conns {
			c.Close()
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// viaProxy returns databaseURL with its host and port replaced by the
// proxy's.
func viaProxy(t *testing.T, databaseURL string, p *tcpProxy) string {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatalf("parsing the database URL: %v", err)
	}
	u.Host = p.Addr()
	return u.String()
}

// databaseHost returns the host:port of databaseURL.
func databaseHost(t *testing.T, databaseURL string) string {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatalf("parsing the database URL: %v", err)
	}
	return u.Host
}
