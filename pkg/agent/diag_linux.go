package agent

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// diagConn is a NETLINK_SOCK_DIAG socket in the process's network
// namespace.
type diagConn struct {
	fd  int
	buf []byte
}

var seq atomic.Uint32

func openDiag() (*diagConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("open sock_diag netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind sock_diag netlink socket: %w", err)
	}
	return &diagConn{fd: fd, buf: make([]byte, 64<<10)}, nil
}

func (c *diagConn) Close() error { return unix.Close(c.fd) }

// dump lists the sockets of one family and protocol in the given states.
// Equivalent to: ss -nlu -m (UDP) or ss -nlt -m (TCP listeners).
func (c *diagConn) dump(family uint8, proto Proto, states uint32, out []Socket) ([]Socket, error) {
	req := dumpRequest(family, proto, states, seq.Add(1))
	if err := unix.Sendto(c.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return out, fmt.Errorf("sock_diag dump %s: %w", proto, err)
	}
	for {
		n, _, err := unix.Recvfrom(c.fd, c.buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return out, fmt.Errorf("sock_diag dump %s: %w", proto, err)
		}
		socks, done, err := parse(c.buf[:n], proto)
		out = append(out, socks...)
		if errors.Is(err, unix.ENOENT) {
			// No handler: the module was neither built in nor loadable.
			return out, fmt.Errorf("sock_diag dump %s: the kernel has no %s_diag (modprobe inet_diag %s_diag): %w", proto, proto, proto, err)
		}
		if err != nil {
			return out, fmt.Errorf("sock_diag dump %s: %w", proto, err)
		}
		if done {
			return out, nil
		}
	}
}

// destroyGroups are the multicast groups that announce the destruction of
// sockets of these protocols, IPv4 and IPv6.
func destroyGroups(protos []Proto) []int {
	var g []int
	for _, p := range protos {
		if p == TCP {
			g = append(g, unix.SKNLGRP_INET_TCP_DESTROY, unix.SKNLGRP_INET6_TCP_DESTROY)
		} else {
			g = append(g, unix.SKNLGRP_INET_UDP_DESTROY, unix.SKNLGRP_INET6_UDP_DESTROY)
		}
	}
	return g
}

// subscribe joins the destruction groups. The kernel lets any process
// join them (sock_diag allows non-root receive) and sends only the
// destruction of sockets in the listener's network namespace.
func (c *diagConn) subscribe(protos []Proto) error {
	// A large buffer: a burst of closing TCP connections must not push out
	// the one event that matters (an overrun is caught by ENOBUFS anyway).
	_ = unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	for _, g := range destroyGroups(protos) {
		if err := unix.SetsockoptInt(c.fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, g); err != nil {
			return fmt.Errorf("join sock_diag destroy group %d: %w", g, err)
		}
	}
	return nil
}

// errOverrun means broadcasts were lost (the receive buffer overflowed):
// the caller must dump to learn the state.
var errOverrun = errors.New("sock_diag broadcasts lost (receive buffer overrun)")

// next blocks until the next batch of destroyed sockets.
func (c *diagConn) next() ([]Socket, error) {
	for {
		n, _, err := unix.Recvfrom(c.fd, c.buf, 0)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS):
			return nil, errOverrun
		case err != nil:
			return nil, fmt.Errorf("read sock_diag broadcast: %w", err)
		}
		// A broadcast names its protocol in INET_DIAG_PROTOCOL.
		socks, _, err := parse(c.buf[:n], 0)
		return socks, err
	}
}

// noPorts reads Udp NoPorts from /proc/net/snmp: datagrams that arrived
// for a port nothing was bound to, in this network namespace.
func noPorts() (uint64, error) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, err
	}
	return parseNoPorts(b)
}
