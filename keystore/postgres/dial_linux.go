package postgres

import (
	"fmt"
	"strings"
	"syscall"
)

// tcpUserTimeout is TCP_USER_TIMEOUT from linux/tcp.h, which package
// syscall does not define on every architecture.
const tcpUserTimeout = 0x12

// setUserTimeout sets TCP_USER_TIMEOUT on TCP sockets; a dialer's Control
// function.
func setUserTimeout(network, _ string, c syscall.RawConn) error {
	if !strings.HasPrefix(network, "tcp") {
		return nil
	}
	var sockErr error
	err := c.Control(func(fd uintptr) {
		sockErr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpUserTimeout, int(feedUserTimeout.Milliseconds()))
	})
	if err != nil {
		return err
	}
	if sockErr != nil {
		return fmt.Errorf("setting TCP_USER_TIMEOUT: %w", sockErr)
	}
	return nil
}
