//go:build linux

package ipvs

// hala's own generic netlink client for the IPVS family. It exists for
// speed: github.com/moby/ipvs sends one request and waits for its reply
// before building the next, allocating a fresh 64 KiB receive buffer per
// call, so converging a table of thousands of rules costs thousands of
// round trips. conn encodes requests into one reusable buffer, sends many
// in one sendmsg (the kernel handles them in order before sendmsg
// returns), asks for an acknowledgement of the last one only (the kernel
// still reports every failure, with its sequence number), and reads
// destination dumps into one reusable buffer. It is the package's only
// kernel client; the integration tests read the table back with moby/ipvs
// and ipvsadm as independent decoders.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Generic netlink and IPVS constants from the kernel's uapi headers
// (linux/genetlink.h, linux/ip_vs.h); golang.org/x/sys has no IPVS ones.
const (
	genlHeaderLen = 4
	ipvsVersion   = 1

	cmdNewService = 1
	cmdSetService = 2
	cmdDelService = 3
	cmdGetService = 4
	cmdNewDest    = 5
	cmdSetDest    = 6
	cmdDelDest    = 7
	cmdGetDest    = 8

	attrService = 1
	attrDest    = 2

	svcAttrAF        = 1
	svcAttrProtocol  = 2
	svcAttrAddr      = 3
	svcAttrPort      = 4
	svcAttrFWMark    = 5
	svcAttrSchedName = 6
	svcAttrFlags     = 7
	svcAttrTimeout   = 8
	svcAttrNetmask   = 9
	svcAttrStats     = 10
	svcAttrStats64   = 12

	destAttrAddr        = 1
	destAttrPort        = 2
	destAttrFwdMethod   = 3
	destAttrWeight      = 4
	destAttrUThresh     = 5
	destAttrLThresh     = 6
	destAttrActiveConns = 7
	destAttrInactConns  = 8
	destAttrStats       = 10
	destAttrAF          = 11
	destAttrStats64     = 12

	statsConns    = 1
	statsInPkts   = 2
	statsOutPkts  = 3
	statsInBytes  = 4
	statsOutBytes = 5
	statsCPS      = 6
	statsInPPS    = 7
	statsOutPPS   = 8
	statsInBPS    = 9
	statsOutBPS   = 10

	nlaTypeMask = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
)

const (
	// maxBatch bounds the requests in one sendmsg, so that even if every
	// one fails, the kernel's error replies fit the receive buffer.
	maxBatch = 256
	// sockRcvBuf is the socket receive buffer asked for (as root).
	sockRcvBuf = 1 << 20
)

// recvBufSize is the receive buffer. The kernel sizes each part of a dump
// to the largest buffer the socket has been read with (at most 32 KiB), but
// never below NLMSG_GOODSIZE (a page, at most 8 KiB), and allocates it anew
// for every part: reading with the smallest safe buffer makes the per-service
// destination dumps of a 1,000-service table about 1.5 times faster than with
// 64 KiB (measured in the test VM). A reply that does not fit is reported,
// never cut silently (MSG_TRUNC).
var recvBufSize = min(max(os.Getpagesize(), 4096), 8192)

// conn is one generic netlink socket in a network namespace, talking to
// the IPVS family.
type conn struct {
	fd      int
	family  uint16
	seq     uint32
	out     []byte        // requests being built
	in      []byte        // receive buffer
	dests   []Destination // destinations being decoded
	timeout time.Duration
	// fake, when set, stands in for the kernel (unit tests): send hands it
	// each datagram and recv returns its replies, fd unused.
	fake wire
}

// wire is the kernel's end of a conn, as a unit test fakes it.
type wire interface {
	send(b []byte) error
	recv() ([]byte, error)
}

// dial opens a generic netlink socket in the namespace at nsPath ("" = the
// caller's) and resolves the IPVS family; it wraps ErrUnsupported when the
// kernel has none.
func dial(nsPath string, timeout time.Duration) (*conn, error) {
	fd, err := socketAt(nsPath)
	if err != nil {
		return nil, err
	}
	c := &conn{fd: fd, in: make([]byte, recvBufSize)} // sequence numbers start at 1
	// Failures and acknowledgements carry only the request's header.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, sockRcvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, sockRcvBuf)
	}
	if err := c.setTimeout(timeout); err != nil {
		c.close()
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		c.close()
		return nil, fmt.Errorf("bind generic netlink socket: %w", err)
	}
	if c.family, err = c.resolve("IPVS"); err != nil {
		c.close()
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("%w: the kernel has no generic netlink family \"IPVS\" (ip_vs module not loaded)", ErrUnsupported)
		}
		return nil, fmt.Errorf("probe IPVS: %w", err)
	}
	return c, nil
}

func (c *conn) close() {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}

// setTimeout bounds every send and receive (SO_SNDTIMEO, SO_RCVTIMEO).
func (c *conn) setTimeout(d time.Duration) error {
	if d == c.timeout {
		return nil
	}
	if d < time.Millisecond {
		d = time.Millisecond
	}
	tv := unix.NsecToTimeval(d.Nanoseconds())
	if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("set netlink timeout: %w", err)
	}
	if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		return fmt.Errorf("set netlink timeout: %w", err)
	}
	c.timeout = d
	return nil
}

// errTimeout replaces EAGAIN from a socket timeout.
var errTimeout = errors.New("no reply from the kernel in time")

func (c *conn) send(b []byte) error {
	if c.fake != nil {
		return c.fake.send(b)
	}
	for {
		err := unix.Sendto(c.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return errTimeout
		case err != nil:
			return fmt.Errorf("send netlink request: %w", err)
		}
		return nil
	}
}

// recv reads one datagram (one or more netlink messages).
func (c *conn) recv() ([]byte, error) {
	if c.fake != nil {
		return c.fake.recv()
	}
	for {
		n, _, flags, _, err := unix.Recvmsg(c.fd, c.in, nil, 0)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return nil, errTimeout
		case err == unix.ENOBUFS:
			return nil, fmt.Errorf("kernel replies lost (receive buffer overrun): %w", err)
		case err != nil:
			return nil, fmt.Errorf("receive netlink reply: %w", err)
		}
		if flags&unix.MSG_TRUNC != 0 {
			return nil, errors.New("netlink reply truncated")
		}
		return c.in[:n], nil
	}
}

// message is one netlink message in a datagram.
type message struct {
	typ   uint16
	flags uint16
	seq   uint32
	data  []byte // after the netlink header
}

// messages splits a datagram; it stops at a malformed header.
func messages(b []byte, yield func(message) error) error {
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(b))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return errors.New("malformed netlink reply")
		}
		m := message{
			typ:   binary.NativeEndian.Uint16(b[4:]),
			flags: binary.NativeEndian.Uint16(b[6:]),
			seq:   binary.NativeEndian.Uint32(b[8:]),
			data:  b[unix.NLMSG_HDRLEN:l],
		}
		if err := yield(m); err != nil {
			return err
		}
		b = b[min(align(l), len(b)):]
	}
	return nil
}

// errno reads an NLMSG_ERROR message: nil for an acknowledgement.
func (m message) errno() error {
	if len(m.data) < 4 {
		return errors.New("malformed netlink error")
	}
	if e := int32(binary.NativeEndian.Uint32(m.data)); e != 0 {
		return syscall.Errno(-e)
	}
	return nil
}

func align(n int) int { return (n + 3) &^ 3 }

// begin starts a message in c.out and returns its offset.
func (c *conn) begin(typ, flags uint16, cmd, version uint8) (int, uint32) {
	c.seq++
	start := len(c.out)
	var h [unix.NLMSG_HDRLEN + genlHeaderLen]byte
	binary.NativeEndian.PutUint16(h[4:], typ)
	binary.NativeEndian.PutUint16(h[6:], flags)
	binary.NativeEndian.PutUint32(h[8:], c.seq)
	h[16], h[17] = cmd, version
	c.out = append(c.out, h[:]...)
	return start, c.seq
}

// finish writes the length of the message at start.
func (c *conn) finish(start int) {
	binary.NativeEndian.PutUint32(c.out[start:], uint32(len(c.out)-start))
}

func (c *conn) attr(typ uint16, data []byte) {
	var h [4]byte
	binary.NativeEndian.PutUint16(h[:], uint16(4+len(data)))
	binary.NativeEndian.PutUint16(h[2:], typ)
	c.out = append(c.out, h[:]...)
	c.out = append(c.out, data...)
	for len(c.out)%4 != 0 {
		c.out = append(c.out, 0)
	}
}

func (c *conn) u16(typ uint16, v uint16) {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], v)
	c.attr(typ, b[:])
}

func (c *conn) be16(typ uint16, v uint16) {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	c.attr(typ, b[:])
}

func (c *conn) u32(typ uint16, v uint32) {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], v)
	c.attr(typ, b[:])
}

func (c *conn) addr(typ uint16, a netip.Addr) {
	if a.Is4() {
		b := a.As4()
		c.attr(typ, b[:])
		return
	}
	b := a.As16()
	c.attr(typ, b[:])
}

// nest starts a nested attribute; end closes it.
func (c *conn) nest(typ uint16) int {
	start := len(c.out)
	var h [4]byte
	binary.NativeEndian.PutUint16(h[2:], typ|unix.NLA_F_NESTED)
	c.out = append(c.out, h[:]...)
	return start
}

func (c *conn) end(start int) {
	binary.NativeEndian.PutUint16(c.out[start:], uint16(len(c.out)-start))
}

// putService writes the service attribute: its key, and with full its
// settings too (the kernel requires them on add and update).
func (c *conn) putService(s Service, full bool) {
	n := c.nest(attrService)
	c.u16(svcAttrAF, family(s.Address))
	if s.FWMark != 0 {
		c.u32(svcAttrFWMark, s.FWMark)
	} else {
		c.u16(svcAttrProtocol, uint16(s.Protocol))
		c.addr(svcAttrAddr, s.Address)
		c.be16(svcAttrPort, s.Port)
	}
	if full {
		name := make([]byte, len(s.Scheduler)+1)
		copy(name, s.Scheduler)
		c.attr(svcAttrSchedName, name)
		var fl [8]byte // struct ip_vs_flags: the flags, and which to set
		binary.NativeEndian.PutUint32(fl[:], uint32(s.Flags&^FlagHashed))
		binary.NativeEndian.PutUint32(fl[4:], ^uint32(0))
		c.attr(svcAttrFlags, fl[:])
		c.u32(svcAttrTimeout, s.Timeout)
		netmask := s.Netmask
		if netmask == 0 {
			netmask = DefaultNetmask(s.Address)
		}
		c.u32(svcAttrNetmask, kernelNetmask(s.Address, netmask))
	}
	c.end(n)
}

func (c *conn) putDestination(d Destination) {
	n := c.nest(attrDest)
	c.addr(destAttrAddr, d.Address)
	c.be16(destAttrPort, d.Port)
	c.u32(destAttrFwdMethod, uint32(d.Forwarding&forwardingMask))
	c.u32(destAttrWeight, uint32(d.Weight))
	c.u32(destAttrUThresh, d.UpperThreshold)
	c.u32(destAttrLThresh, d.LowerThreshold)
	c.u16(destAttrAF, family(d.Address))
	c.end(n)
}

// resolve asks the generic netlink controller for a family's id.
func (c *conn) resolve(name string) (uint16, error) {
	c.out = c.out[:0]
	start, seq := c.begin(unix.GENL_ID_CTRL, unix.NLM_F_REQUEST|unix.NLM_F_ACK, unix.CTRL_CMD_GETFAMILY, 1)
	c.attr(unix.CTRL_ATTR_FAMILY_NAME, append([]byte(name), 0))
	c.finish(start)
	if err := c.send(c.out); err != nil {
		return 0, err
	}
	var id uint16
	for {
		b, err := c.recv()
		if err != nil {
			return 0, err
		}
		done := false
		err = messages(b, func(m message) error {
			if m.seq != seq {
				return nil
			}
			switch m.typ {
			case unix.NLMSG_ERROR:
				done = true
				return m.errno()
			case unix.GENL_ID_CTRL:
				if len(m.data) < genlHeaderLen {
					return errors.New("malformed generic netlink reply")
				}
				attrs(m.data[genlHeaderLen:], func(t uint16, v []byte) {
					if t == unix.CTRL_ATTR_FAMILY_ID && len(v) >= 2 {
						id = binary.NativeEndian.Uint16(v)
					}
				})
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
		if done {
			if id == 0 {
				return 0, unix.ENOENT
			}
			return id, nil
		}
	}
}

// attrs calls f for each attribute in b.
func attrs(b []byte, f func(typ uint16, v []byte)) {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		if l < 4 || l > len(b) {
			return
		}
		f(binary.NativeEndian.Uint16(b[2:])&nlaTypeMask, b[4:l])
		b = b[min(align(l), len(b)):]
	}
}

func (o Op) cmd() uint8 {
	return [...]uint8{0, cmdNewService, cmdSetService, cmdDelService, cmdNewDest, cmdSetDest, cmdDelDest}[o]
}

// verb returns "add", "update" or "delete".
func (o Op) verb() string {
	switch o {
	case OpAddService, OpAddDestination:
		return "add"
	case OpUpdateService, OpUpdateDestination:
		return "update"
	}
	return "delete"
}

// check validates r as the single-call methods do, and fills in what the
// kernel needs but does not compare.
func (r *Request) check() error {
	verb := r.Op.verb()
	if r.Op < OpAddService || r.Op > OpDeleteDestination {
		return fmt.Errorf("unknown IPVS operation %d", r.Op)
	}
	if r.Op == OpDeleteService || r.Op.onDestination() {
		if r.Service.Scheduler == "" {
			r.Service.Scheduler = "rr" // the kernel looks services up by key only
		}
	}
	if !r.Op.onDestination() {
		if err := r.Service.Validate(); err != nil {
			return fmt.Errorf("%s service: %w", verb, err)
		}
		if r.Service.Address.Is4In6() {
			return fmt.Errorf("%s service %s: IPv4-mapped IPv6 address; write it as IPv4", verb, r.Service.Key())
		}
		return nil
	}
	if !r.Service.Address.IsValid() {
		return fmt.Errorf("%s destination %s on %s: no address", verb, r.Destination.Key(), r.Service.Key())
	}
	if err := r.Destination.Validate(); err != nil {
		return fmt.Errorf("%s destination on %s: %w", verb, r.Service.Key(), err)
	}
	r.Destination.Address = r.Destination.Address.Unmap()
	if r.Destination.Address.Is4() != r.Service.Address.Is4() {
		return fmt.Errorf("%s destination %s on %s: address family differs from the service's", verb, r.Destination.Key(), r.Service.Key())
	}
	return nil
}

// wrap names the request and what the kernel's errno means for it.
func (r Request) wrap(err error) error {
	if r.Op.onDestination() {
		return fmt.Errorf("%s destination %s on %s: %w", r.Op.verb(), r.Destination.Key(), r.Service.Key(), destErr(err, r.Op.verb()))
	}
	return fmt.Errorf("%s service %s: %w", r.Op.verb(), r.Service.Key(), svcErr(err, r.Service))
}

// encode appends r to c.out as one request; ack asks for an
// acknowledgement even on success.
func (c *conn) encode(r Request, ack bool) uint32 {
	flags := uint16(unix.NLM_F_REQUEST)
	if ack {
		flags |= unix.NLM_F_ACK
	}
	start, seq := c.begin(c.family, flags, r.Op.cmd(), ipvsVersion)
	if r.Op.onDestination() {
		c.putService(r.Service, false)
		c.putDestination(r.Destination)
	} else {
		c.putService(r.Service, r.Op != OpDeleteService)
	}
	c.finish(start)
	return seq
}

// exchange sends reqs (already checked) in one sendmsg and sets errs[i]
// for each. Only the last request asks for an acknowledgement: the kernel
// handles the requests in order before sendmsg returns and sends an error
// for each one that fails, so the last one's reply ends the batch. A
// transport error leaves every request whose outcome is unknown with it.
func (c *conn) exchange(reqs []Request, errs []error) error {
	c.out = c.out[:0]
	first := c.seq + 1
	for i, r := range reqs {
		c.encode(r, i == len(reqs)-1)
	}
	last := c.seq
	if err := c.send(c.out); err != nil {
		return err
	}
	for {
		b, err := c.recv()
		if err != nil {
			return err
		}
		done := false
		err = messages(b, func(m message) error {
			// m.seq-first wraps like the sequence numbers do, so a batch
			// that crosses 2^32 is still recognised.
			if m.typ != unix.NLMSG_ERROR || m.seq-first >= uint32(len(reqs)) {
				return nil // not ours: a late reply to an abandoned request
			}
			errs[m.seq-first] = m.errno()
			if m.seq == last {
				done = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// maxDumpAttempts bounds how often a dump is retried when the kernel
// flags its reply as interrupted (NLM_F_DUMP_INTR).
const maxDumpAttempts = 5

// errDumpInterrupted is dumpOnce's error for a reply flagged NLM_F_DUMP_INTR.
var errDumpInterrupted = errors.New("dump interrupted")

// dump sends one dump request built by put and calls f with the payload
// (after the generic netlink header) of each message of the reply. When the
// kernel flags the reply as interrupted (the table changed while it was
// sent, so it may miss or repeat entries), it calls reset, which must
// forget what f was given, and dumps again, up to maxDumpAttempts times;
// then it fails wrapping ErrDumpInterrupted.
func (c *conn) dump(cmd uint8, put func(), reset func(), f func([]byte) error) error {
	for attempt := 1; ; attempt++ {
		err := c.dumpOnce(cmd, put, f)
		if !errors.Is(err, errDumpInterrupted) {
			return err
		}
		if attempt == maxDumpAttempts {
			return fmt.Errorf("%w: interrupted %d times in a row, try again", ErrDumpInterrupted, attempt)
		}
		reset()
	}
}

// dumpOnce makes one dump; see dump. An interrupted reply is read to its
// end, so the socket stays usable, and reported as errDumpInterrupted.
func (c *conn) dumpOnce(cmd uint8, put func(), f func([]byte) error) error {
	c.out = c.out[:0]
	start, seq := c.begin(c.family, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, cmd, ipvsVersion)
	if put != nil {
		put()
	}
	c.finish(start)
	if err := c.send(c.out); err != nil {
		return err
	}
	interrupted := false
	for {
		b, err := c.recv()
		if err != nil {
			return err
		}
		done := false
		err = messages(b, func(m message) error {
			if m.seq != seq || done {
				return nil
			}
			if m.flags&unix.NLM_F_DUMP_INTR != 0 {
				interrupted = true
			}
			switch m.typ {
			case unix.NLMSG_DONE:
				done = true
				return nil
			case unix.NLMSG_ERROR:
				done = true
				return m.errno()
			}
			if interrupted {
				return nil // thrown away: the dump is made again
			}
			if len(m.data) < genlHeaderLen {
				return errors.New("malformed generic netlink reply")
			}
			return f(m.data[genlHeaderLen:])
		})
		if err != nil {
			if done {
				return err
			}
			// The rest of the dump would still arrive: drop the socket.
			c.close()
			return err
		}
		if done {
			if interrupted {
				return errDumpInterrupted
			}
			return nil
		}
	}
}

// nested returns the payload of attribute typ in b (nil if absent).
func nested(b []byte, typ uint16) []byte {
	var out []byte
	attrs(b, func(t uint16, v []byte) {
		if t == typ {
			out = v
		}
	})
	return out
}

func u32(v []byte) uint32 {
	if len(v) < 4 {
		return 0
	}
	return binary.NativeEndian.Uint32(v)
}

func u64(v []byte) uint64 {
	if len(v) < 8 {
		return 0
	}
	return binary.NativeEndian.Uint64(v)
}

// decodeStats reads a stats attribute: 32-bit counters in the old one,
// 64-bit in stats64 (wide is true).
func decodeStats(b []byte, wide bool) Stats {
	var s Stats
	attrs(b, func(t uint16, v []byte) {
		n := uint64(u32(v))
		if wide || t == statsInBytes || t == statsOutBytes {
			n = u64(v)
		}
		switch t {
		case statsConns:
			s.Connections = n
		case statsInPkts:
			s.PacketsIn = n
		case statsOutPkts:
			s.PacketsOut = n
		case statsInBytes:
			s.BytesIn = n
		case statsOutBytes:
			s.BytesOut = n
		case statsCPS:
			s.CPS = n
		case statsInPPS:
			s.PPSIn = n
		case statsOutPPS:
			s.PPSOut = n
		case statsInBPS:
			s.BPSIn = n
		case statsOutBPS:
			s.BPSOut = n
		}
	})
	return s
}

// addrOf reads an address attribute of family af (the kernel sends 16
// bytes, of which IPv4 uses the first 4).
func addrOf(v []byte, af uint16) (netip.Addr, bool) {
	switch {
	case af == unix.AF_INET && len(v) >= 4:
		return netip.AddrFrom4([4]byte(v[:4])), true
	case af == unix.AF_INET6 && len(v) >= 16:
		return netip.AddrFrom16([16]byte(v[:16])), true
	}
	return netip.Addr{}, false
}

// decodeService reads the service attribute of a GET_SERVICE reply.
func decodeService(msg []byte) (Service, error) {
	b := nested(msg, attrService)
	if b == nil {
		return Service{}, errors.New("kernel reply without a service")
	}
	var (
		s             Service
		af            uint16
		rawAddr       []byte
		stats, stats6 []byte
	)
	attrs(b, func(t uint16, v []byte) {
		switch t {
		case svcAttrAF:
			if len(v) >= 2 {
				af = binary.NativeEndian.Uint16(v)
			}
		case svcAttrProtocol:
			if len(v) >= 2 {
				s.Protocol = Protocol(binary.NativeEndian.Uint16(v))
			}
		case svcAttrAddr:
			rawAddr = v
		case svcAttrPort:
			if len(v) >= 2 {
				s.Port = binary.BigEndian.Uint16(v)
			}
		case svcAttrFWMark:
			s.FWMark = u32(v)
		case svcAttrSchedName:
			for len(v) > 0 && v[len(v)-1] == 0 {
				v = v[:len(v)-1]
			}
			s.Scheduler = string(v)
		case svcAttrFlags:
			s.Flags = Flags(u32(v)) &^ FlagHashed
		case svcAttrTimeout:
			s.Timeout = u32(v)
		case svcAttrNetmask:
			s.Netmask = u32(v)
		case svcAttrStats:
			stats = v
		case svcAttrStats64:
			stats6 = v
		}
	})
	switch {
	case s.FWMark != 0 && af == unix.AF_INET6:
		s.Address = netip.IPv6Unspecified()
	case s.FWMark != 0:
		s.Address = netip.IPv4Unspecified()
	default:
		a, ok := addrOf(rawAddr, af)
		if !ok {
			return Service{}, fmt.Errorf("kernel returned an invalid service address %x (family %d)", rawAddr, af)
		}
		s.Address = a
	}
	if s.FWMark != 0 {
		s.Protocol, s.Port = 0, 0
	}
	s.Netmask = kernelNetmask(s.Address, s.Netmask)
	if stats6 != nil {
		s.Stats = decodeStats(stats6, true)
	} else if stats != nil {
		s.Stats = decodeStats(stats, false)
	}
	return s, nil
}

// decodeDestination reads the destination attribute of a GET_DEST reply;
// af is the service's family, used when the kernel does not say.
func decodeDestination(msg []byte, af uint16) (Destination, error) {
	b := nested(msg, attrDest)
	if b == nil {
		return Destination{}, errors.New("kernel reply without a destination")
	}
	var (
		d             Destination
		rawAddr       []byte
		stats, stats6 []byte
	)
	attrs(b, func(t uint16, v []byte) {
		switch t {
		case destAttrAddr:
			rawAddr = v
		case destAttrPort:
			if len(v) >= 2 {
				d.Port = binary.BigEndian.Uint16(v)
			}
		case destAttrFwdMethod:
			d.Forwarding = Forwarding(u32(v)) & forwardingMask
		case destAttrWeight:
			d.Weight = int(int32(u32(v)))
		case destAttrUThresh:
			d.UpperThreshold = u32(v)
		case destAttrLThresh:
			d.LowerThreshold = u32(v)
		case destAttrActiveConns:
			d.ActiveConns = int(u32(v))
		case destAttrInactConns:
			d.InactiveConns = int(u32(v))
		case destAttrAF:
			if len(v) >= 2 {
				af = binary.NativeEndian.Uint16(v)
			}
		case destAttrStats:
			stats = v
		case destAttrStats64:
			stats6 = v
		}
	})
	a, ok := addrOf(rawAddr, af)
	if !ok {
		return Destination{}, fmt.Errorf("kernel returned an invalid destination address %x (family %d)", rawAddr, af)
	}
	d.Address = a
	if stats6 != nil {
		d.Stats = decodeStats(stats6, true)
	} else if stats != nil {
		d.Stats = decodeStats(stats, false)
	}
	return d, nil
}

// services dumps every service.
func (c *conn) services() ([]Service, error) {
	var out []Service
	err := c.dump(cmdGetService, nil, func() { out = out[:0] }, func(b []byte) error {
		s, err := decodeService(b)
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// destinations dumps the destinations of s.
func (c *conn) destinations(s Service) ([]Destination, error) {
	if s.Scheduler == "" {
		s.Scheduler = "rr"
	}
	af := family(s.Address)
	// Decoded into a buffer kept between dumps, then copied out at its
	// size: growing each service's slice from nil made a third of the Go
	// time of reading 1,000 services × 10 in the test VM.
	out := c.dests[:0]
	err := c.dump(cmdGetDest, func() { c.putService(s, false) }, func() { out = out[:0] }, func(b []byte) error {
		d, err := decodeDestination(b, af)
		if err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	c.dests = out[:0]
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return slices.Clone(out), nil
}
