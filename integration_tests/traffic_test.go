package integration_tests

import (
	"net/http"
	"sync"
	"time"
)

// trafficLog records what the requests of a traffic loop got, and when.
type trafficLog struct {
	mu   sync.Mutex
	hits []hit
}

// hit is one request of a traffic loop.
type hit struct {
	at      time.Time
	status  int   // 0: the request failed
	err     error // why it failed
	retried bool  // a connection of its was reset
}

func (l *trafficLog) add(h hit) {
	l.mu.Lock()
	l.hits = append(l.hits, h)
	l.mu.Unlock()
}

// all returns the hits so far, in the order they ended.
func (l *trafficLog) all() []hit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]hit(nil), l.hits...)
}

// count returns how many hits got status (0: failed).
func (l *trafficLog) count(status int) int {
	n := 0
	for _, h := range l.all() {
		if h.status == status {
			n++
		}
	}
	return n
}

// traffic sends requests with key to g from a number of clients, each in
// a loop, until stop (which may be called more than once) is called.
//
// A request whose connection fails is retried, up to sendAttempts times
// in all, as RFC 9110 lets clients do with idempotent requests: on Linux,
// Caddy binds each config's listener anew with SO_REUSEPORT and closes the
// old one, and the kernel resets the connections still queued on it, with
// or without keygate; while both sockets are open, a new connection may
// land on the old one again.
func traffic(g *gateway, key string, clients int) (log *trafficLog, stop func()) {
	log = new(trafficLog)
	done := make(chan struct{})
	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				log.add(send(client, g.URL+"/traffic", key))
			}
		})
	}
	return log, sync.OnceFunc(func() {
		close(done)
		wg.Wait()
		client.CloseIdleConnections()
	})
}

// sendAttempts bounds the tries of one request of a traffic loop.
const sendAttempts = 3

// send sends one GET with key, tried again if its connection fails.
func send(client *http.Client, url, key string) hit {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return hit{at: time.Now(), err: err}
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	retried := err != nil
	for attempt := 2; err != nil && attempt <= sendAttempts; attempt++ {
		resp, err = client.Do(req)
	}
	if err != nil {
		return hit{at: time.Now(), err: err, retried: retried}
	}
	resp.Body.Close()
	return hit{at: time.Now(), status: resp.StatusCode, retried: retried}
}
