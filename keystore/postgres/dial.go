package postgres

import (
	"net"
	"time"
)

// Keepalive settings of the change feed's connection. Go's defaults
// (15s idle, then 9 probes 15s apart) would take minutes to notice a peer
// that vanished; the follower's heartbeat notices sooner, and these make
// the kernel agree.
const (
	feedKeepAliveIdle     = 5 * time.Second
	feedKeepAliveInterval = 2 * time.Second
	feedKeepAliveCount    = 3
	// feedUserTimeout bounds how long sent data may stay unacknowledged
	// before the kernel drops the connection (TCP_USER_TIMEOUT, Linux).
	feedUserTimeout = 10 * time.Second
)

// feedDialer returns the dialer of the change feed's connection: TCP
// keepalives and a TCP user timeout, so that a connection whose peer
// vanished fails instead of hanging.
func feedDialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{
		Timeout: timeout,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable:   true,
			Idle:     feedKeepAliveIdle,
			Interval: feedKeepAliveInterval,
			Count:    feedKeepAliveCount,
		},
		Control: setUserTimeout,
	}
}
