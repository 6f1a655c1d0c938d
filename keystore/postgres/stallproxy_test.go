package postgres

import (
	"net"
	"net/url"
	"sync"
	"testing"
)

// stallProxy forwards TCP connections to a database; stall makes the
// connections open at that moment go silent, without closing them, like a
// peer that vanished behind a firewall. Connections made later work.
type stallProxy struct {
	listener net.Listener
	target   string
	done     chan struct{} // closed when the test ends

	mu    sync.Mutex
	pairs []*stallPair
	wg    sync.WaitGroup
}

// stallPair is a client connection and its connection to the database.
type stallPair struct {
	client, server net.Conn
	stalled        chan struct{} // closed by stall
}

// newStallProxy starts forwarding to the host of databaseURL; it stops
// when t ends.
func newStallProxy(t *testing.T, databaseURL string) *stallProxy {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{listener: l, target: u.Host, done: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// url returns databaseURL with the proxy as its host.
func (p *stallProxy) url(t *testing.T, databaseURL string) string {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.listener.Addr().String()
	return u.String()
}

func (p *stallProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		pair := &stallPair{client: client, server: server, stalled: make(chan struct{})}
		p.mu.Lock()
		p.pairs = append(p.pairs, pair)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(pair, server, client)
		go p.pipe(pair, client, server)
	}
}

// pipe copies src to dst until either ends or the pair stalls: then it
// holds both open, silent, until the test ends.
func (p *stallProxy) pipe(pair *stallPair, dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-pair.stalled:
			<-p.done
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			src.Close()
			dst.Close()
			return
		}
	}
}

// stall silences every connection open now.
func (p *stallProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pair := range p.pairs {
		select {
		case <-pair.stalled:
		default:
			close(pair.stalled)
		}
	}
}

func (p *stallProxy) close() {
	p.listener.Close()
	close(p.done)
	p.mu.Lock()
	for _, pair := range p.pairs {
		pair.client.Close()
		pair.server.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
