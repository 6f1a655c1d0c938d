//go:build !linux

package postgres

import "syscall"

// setUserTimeout does nothing where TCP_USER_TIMEOUT is not available: the
// keepalives and the follower's heartbeat still notice a dead peer.
func setUserTimeout(string, string, syscall.RawConn) error { return nil }
