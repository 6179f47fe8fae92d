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
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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
