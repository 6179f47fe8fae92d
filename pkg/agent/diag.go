package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
)

// Proto is a transport protocol: UDP or TCP.
type Proto uint8

// The protocols an input can use (IPPROTO_*).
const (
	TCP Proto = 6
	UDP Proto = 17
)

func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return fmt.Sprintf("proto%d", uint8(p))
}

// ParseProto reads "tcp" or "udp".
func ParseProto(s string) (Proto, error) {
	switch s {
	case "tcp":
		return TCP, nil
	case "udp":
		return UDP, nil
	}
	return 0, fmt.Errorf("protocol %q: want tcp or udp", s)
}

// Socket is one socket as sock_diag reports it, in a dump or in a
// destruction broadcast.
type Socket struct {
	Proto  Proto
	State  uint8 // TCP state numbers; an unconnected UDP socket is 7 (CLOSE)
	Addr   netip.Addr
	Port   uint16
	Peer   netip.AddrPort // zero port: not connected
	Cookie uint64         // unique per socket until reboot
	Inode  uint32
	UID    uint32
	// RQueue is the bytes waiting in the receive queue (UDP) or, for a
	// listening TCP socket, the connections waiting for accept.
	RQueue uint32
	// Drops is the kernel's count of packets dropped at this socket
	// (SK_MEMINFO_DROPS); valid when HasMem.
	Drops  uint32
	HasMem bool
}

// tcpListen is TCP_LISTEN in the kernel's state numbering.
const tcpListen = 10

// Listening reports whether the socket receives new traffic on its port:
// a TCP socket in LISTEN, an unconnected UDP socket.
func (s Socket) Listening() bool {
	if s.Proto == TCP {
		return s.State == tcpListen
	}
	return s.Peer.Port() == 0
}

func (s Socket) String() string {
	return fmt.Sprintf("%s %s cookie %d", s.Proto, netip.AddrPortFrom(s.Addr, s.Port), s.Cookie)
}

// Netlink and sock_diag wire constants (linux/netlink.h, linux/inet_diag.h).
const (
	nlmsgHdrLen      = 16
	nlmsgError       = 2
	nlmsgDone        = 3
	sockDiagByFamily = 20
	diagMsgLen       = 72 // struct inet_diag_msg
	diagReqLen       = 56 // struct inet_diag_req_v2
	attrSKMemInfo    = 7  // INET_DIAG_SKMEMINFO
	attrProtocol     = 10 // INET_DIAG_PROTOCOL
	memInfoDrops     = 8  // SK_MEMINFO_DROPS
	afInet           = 2
	afInet6          = 10
	nlmFRequest      = 0x1
	nlmFDump         = 0x300 // NLM_F_ROOT | NLM_F_MATCH
)

// ErrTruncated is returned for a netlink message shorter than it says.
var ErrTruncated = errors.New("truncated netlink message")

// parse reads the netlink messages in b (one datagram): the sockets, and
// whether a NLMSG_DONE ended a dump. proto is the protocol of a dump's
// replies (a broadcast says it in INET_DIAG_PROTOCOL, which wins). An
// NLMSG_ERROR carrying an errno is returned as that errno.
func parse(b []byte, proto Proto) (socks []Socket, done bool, err error) {
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return socks, done, ErrTruncated
		}
		n := int(binary.NativeEndian.Uint32(b[0:4]))
		typ := binary.NativeEndian.Uint16(b[4:6])
		if n < nlmsgHdrLen || n > len(b) {
			return socks, done, ErrTruncated
		}
		body := b[nlmsgHdrLen:n]
		switch typ {
		case nlmsgDone:
			done = true
		case nlmsgError:
			if len(body) < 4 {
				return socks, done, ErrTruncated
			}
			if errno := int32(binary.NativeEndian.Uint32(body[0:4])); errno != 0 {
				return socks, done, syscall.Errno(-errno)
			}
		case sockDiagByFamily:
			s, err := parseSocket(body, proto)
			if err != nil {
				return socks, done, err
			}
			socks = append(socks, s)
		}
		b = b[min(align4(n), len(b)):]
	}
	return socks, done, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// parseSocket reads one struct inet_diag_msg and its attributes.
func parseSocket(b []byte, proto Proto) (Socket, error) {
	if len(b) < diagMsgLen {
		return Socket{}, ErrTruncated
	}
	s := Socket{Proto: proto, State: b[1]}
	// struct inet_diag_sockid at offset 4: sport, dport (big endian),
	// src[4], dst[4] (network order), if, cookie[2].
	id := b[4:52]
	s.Port = binary.BigEndian.Uint16(id[0:2])
	dport := binary.BigEndian.Uint16(id[2:4])
	switch b[0] {
	case afInet:
		s.Addr = netip.AddrFrom4([4]byte(id[4:8]))
		s.Peer = netip.AddrPortFrom(netip.AddrFrom4([4]byte(id[20:24])), dport)
	case afInet6:
		s.Addr = netip.AddrFrom16([16]byte(id[4:20]))
		s.Peer = netip.AddrPortFrom(netip.AddrFrom16([16]byte(id[20:36])), dport)
	default:
		return Socket{}, fmt.Errorf("sock_diag message of address family %d", b[0])
	}
	s.Cookie = uint64(binary.NativeEndian.Uint32(id[40:44])) | uint64(binary.NativeEndian.Uint32(id[44:48]))<<32
	s.RQueue = binary.NativeEndian.Uint32(b[56:60])
	s.UID = binary.NativeEndian.Uint32(b[64:68])
	s.Inode = binary.NativeEndian.Uint32(b[68:72])
	for a := b[diagMsgLen:]; len(a) >= 4; {
		n := int(binary.NativeEndian.Uint16(a[0:2]))
		typ := binary.NativeEndian.Uint16(a[2:4]) & 0x3fff
		if n < 4 || n > len(a) {
			return Socket{}, ErrTruncated
		}
		v := a[4:n]
		switch typ {
		case attrProtocol:
			if len(v) >= 1 {
				s.Proto = Proto(v[0])
			}
		case attrSKMemInfo:
			if len(v) >= 4*(memInfoDrops+1) {
				s.Drops = binary.NativeEndian.Uint32(v[4*memInfoDrops:])
				s.HasMem = true
			}
		}
		a = a[min(align4(n), len(a)):]
	}
	return s, nil
}

// dumpRequest is a SOCK_DIAG_BY_FAMILY dump request for one family and
// protocol, the sockets in states (a bit per TCP state number), with
// SK_MEMINFO.
func dumpRequest(family uint8, proto Proto, states uint32, seq uint32) []byte {
	b := make([]byte, nlmsgHdrLen+diagReqLen)
	binary.NativeEndian.PutUint32(b[0:4], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:6], sockDiagByFamily)
	binary.NativeEndian.PutUint16(b[6:8], nlmFRequest|nlmFDump)
	binary.NativeEndian.PutUint32(b[8:12], seq)
	r := b[nlmsgHdrLen:]
	r[0] = family
	r[1] = uint8(proto)
	r[2] = 1 << (attrSKMemInfo - 1) // idiag_ext
	binary.NativeEndian.PutUint32(r[4:8], states)
	return b
}

// parseNoPorts reads Udp NoPorts from /proc/net/snmp's text: a header
// line of names and a line of values, both starting "Udp:".
func parseNoPorts(b []byte) (uint64, error) {
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "NoPorts" && i < len(f) {
				return strconv.ParseUint(f[i], 10, 64)
			}
		}
		break
	}
	return 0, errors.New("/proc/net/snmp: no Udp NoPorts")
}
