//go:build linux

package ipvs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	moby "github.com/moby/ipvs"
	"golang.org/x/sys/unix"
)

// DefaultTimeout bounds one netlink call when the caller's context has no
// earlier deadline. A dump of a few thousand services takes milliseconds.
const DefaultTimeout = 5 * time.Second

// Handle reads and writes the IPVS table of one network namespace. Its
// methods are safe for concurrent use: calls are serialised, each under a
// deadline.
//
// Writes and Entries go through hala's own netlink client (see
// netlink_linux.go), which pipelines requests; Services and Destinations
// read through github.com/moby/ipvs.
type Handle struct {
	// Timeout bounds each netlink call (DefaultTimeout when 0). Set it
	// before the first call.
	Timeout time.Duration

	path   string
	mu     sync.Mutex
	c      *conn        // nil after Close or after a transport error
	h      *moby.Handle // opened on first use; nil after a call timed out
	closed bool
	writes atomic.Uint64
}

// New returns a Handle bound to the network namespace at nsPath (such as
// /run/netns/NAME or /proc/PID/ns/net); "" means the caller's namespace.
// It fails, wrapping ErrUnsupported, when the kernel has no IPVS: it asks
// generic netlink for the "IPVS" family, as moby/ipvs does not.
func New(nsPath string) (*Handle, error) {
	h := &Handle{path: nsPath}
	c, err := dial(nsPath, h.timeout())
	if err != nil {
		return nil, err
	}
	h.c = c
	return h, nil
}

func (h *Handle) timeout() time.Duration {
	if h.Timeout <= 0 {
		return DefaultTimeout
	}
	return h.Timeout
}

func (h *Handle) open() (*moby.Handle, error) {
	mh, err := moby.New(h.path)
	if err != nil {
		if h.path != "" {
			return nil, fmt.Errorf("open IPVS netlink socket in %s: %w", h.path, err)
		}
		return nil, fmt.Errorf("open IPVS netlink socket: %w", err)
	}
	return mh, nil
}

// Close releases the netlink sockets. The Handle is unusable afterwards.
func (h *Handle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.h != nil {
		h.h.Close()
		h.h = nil
	}
	if h.c != nil {
		h.c.close()
		h.c = nil
	}
	return nil
}

// Writes returns how many requests that change the table (add, update,
// delete) this Handle has sent, successful or not.
func (h *Handle) Writes() uint64 { return h.writes.Load() }

// do runs f on the moby/ipvs socket under the lock and a deadline. When
// the deadline passes or ctx is cancelled, the socket is closed (which
// unblocks f) and a fresh one is opened on the next call.
func (h *Handle) do(ctx context.Context, f func(*moby.Handle) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errors.New("IPVS handle is closed")
	}
	if h.h == nil {
		mh, err := h.open()
		if err != nil {
			return err
		}
		h.h = mh
	}
	timeout := h.timeout()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	mh := h.h
	stop := context.AfterFunc(cctx, mh.Close)
	err := f(mh)
	if !stop() {
		// The deadline closed the socket: it is useless now.
		h.h = nil
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("no reply from the kernel within %v: %w", timeout, context.DeadlineExceeded)
		}
	}
	return err
}

// conn returns the netlink client, redialled after a transport error, with
// its socket timeout set from h.Timeout and ctx's deadline. The caller
// holds h.mu.
func (h *Handle) conn(ctx context.Context) (*conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if h.closed {
		return nil, errors.New("IPVS handle is closed")
	}
	if h.c != nil && h.c.fd < 0 {
		h.c = nil
	}
	timeout := h.timeout()
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return nil, context.DeadlineExceeded
		}
	}
	if h.c == nil {
		c, err := dial(h.path, timeout)
		if err != nil {
			return nil, err
		}
		h.c = c
	}
	if err := h.c.setTimeout(timeout); err != nil {
		h.c.close()
		h.c = nil
		return nil, err
	}
	return h.c, nil
}

// transport turns a socket failure into the error callers see, and drops
// the socket: replies to what was sent may still arrive on it.
func (h *Handle) transport(ctx context.Context, err error) error {
	if h.c != nil {
		h.c.close()
		h.c = nil
	}
	if errors.Is(err, errTimeout) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("no reply from the kernel within %v: %w", h.timeout(), context.DeadlineExceeded)
	}
	return err
}

// Batch makes reqs in order and returns one result per request: nil when
// the kernel made the change, ErrNotAttempted when it was not sent, or why
// it failed.
//
// Requests are pipelined: up to a few hundred go to the kernel in one
// message, which handles them in order and reports each failure. A batch
// ends after every OpAddService and OpUpdateService, so no destination is
// sent before the outcome of its service's own change is known. After a
// batch with a failure nothing more is sent; the requests of that batch
// after the failure were made all the same, and their results say so.
// A request that fails validation ends the batch before it and fails
// without being sent.
func (h *Handle) Batch(ctx context.Context, reqs []Request) []error {
	errs := make([]error, len(reqs))
	for i := range errs {
		errs[i] = ErrNotAttempted
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	checked := make([]Request, len(reqs))
	for i := 0; i < len(reqs); {
		// The batch: reqs[i:j].
		j, invalid := i, error(nil)
		for j < len(reqs) && j-i < maxBatch {
			r := reqs[j]
			if invalid = r.check(); invalid != nil {
				break
			}
			checked[j] = r
			j++
			if r.Op == OpAddService || r.Op == OpUpdateService {
				break
			}
		}
		if j > i {
			c, err := h.conn(ctx)
			if err != nil {
				for k := i; k < j; k++ {
					errs[k] = reqs[k].wrap(err)
				}
				return errs
			}
			h.writes.Add(uint64(j - i))
			res := errs[i:j]
			for k := range res {
				res[k] = nil
			}
			if err := c.exchange(checked[i:j], res); err != nil {
				err = h.transport(ctx, err)
				for k := i; k < j; k++ {
					// The outcome is unknown: the kernel may have made it.
					errs[k] = reqs[k].wrap(err)
				}
				return errs
			}
			failed := false
			for k := i; k < j; k++ {
				if errs[k] != nil {
					errs[k] = checked[k].wrap(errs[k])
					failed = true
				}
			}
			if failed {
				return errs
			}
		}
		if invalid != nil {
			errs[j] = invalid
			return errs
		}
		i = j
	}
	return errs
}

// Entries reads the whole table: every service and its destinations, with
// counters, in the kernel's order.
//
// Equivalent to: ipvsadm -Ln --stats
func (h *Handle) Entries(ctx context.Context) ([]Entry, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	svcs, err := c.services()
	if err != nil {
		return nil, fmt.Errorf("list services: %w", h.transport(ctx, err))
	}
	out := make([]Entry, 0, len(svcs))
	for _, s := range svcs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ds, err := c.destinations(s)
		if errors.Is(err, unix.ESRCH) {
			continue // deleted by another tool since the service dump
		}
		if err != nil {
			return nil, fmt.Errorf("list destinations of %s: %w", s.Key(), h.transport(ctx, err))
		}
		out = append(out, Entry{Service: s, Destinations: ds})
	}
	return out, nil
}

// Services returns every virtual service in the table, with counters.
//
// Equivalent to: ipvsadm -Ln --stats
func (h *Handle) Services(ctx context.Context) ([]Service, error) {
	var ms []*moby.Service
	err := h.do(ctx, func(mh *moby.Handle) error {
		var err error
		ms, err = mh.GetServices()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	out := make([]Service, 0, len(ms))
	for _, m := range ms {
		s, err := fromMobyService(m)
		if err != nil {
			return nil, fmt.Errorf("list services: %w", err)
		}
		out = append(out, s)
	}
	return out, nil
}

// Destinations returns the destinations of svc, with counters.
//
// Equivalent to: ipvsadm -Ln --stats -u VIP:PORT
func (h *Handle) Destinations(ctx context.Context, svc Service) ([]Destination, error) {
	ms, err := toMobyService(svc)
	if err != nil {
		return nil, fmt.Errorf("list destinations of %s: %w", svc.Key(), err)
	}
	var md []*moby.Destination
	err = h.do(ctx, func(mh *moby.Handle) error {
		var err error
		md, err = mh.GetDestinations(ms)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list destinations of %s: %w", svc.Key(), svcErr(err, svc))
	}
	out := make([]Destination, 0, len(md))
	for _, m := range md {
		d, err := fromMobyDestination(m)
		if err != nil {
			return nil, fmt.Errorf("list destinations of %s: %w", svc.Key(), err)
		}
		out = append(out, d)
	}
	return out, nil
}

// AddService creates svc.
//
// Equivalent to: ipvsadm -A -u VIP:PORT -s rr [-o] [-p TIMEOUT]
func (h *Handle) AddService(ctx context.Context, svc Service) error {
	return h.Batch(ctx, []Request{{Op: OpAddService, Service: svc}})[0]
}

// UpdateService sets every field of the existing service svc.Key() to
// svc's: scheduler, flags, timeout and netmask. Destinations and their
// connections stay.
//
// Equivalent to: ipvsadm -E -u VIP:PORT -s rr [-o] [-p TIMEOUT]
func (h *Handle) UpdateService(ctx context.Context, svc Service) error {
	return h.Batch(ctx, []Request{{Op: OpUpdateService, Service: svc}})[0]
}

// DeleteService removes svc and, with it, its destinations.
//
// Equivalent to: ipvsadm -D -u VIP:PORT
func (h *Handle) DeleteService(ctx context.Context, svc Service) error {
	return h.Batch(ctx, []Request{{Op: OpDeleteService, Service: svc}})[0]
}

// AddDestination adds d to the existing service svc.
//
// Equivalent to: ipvsadm -a -u VIP:PORT -r RIP:PORT -m -w 1
func (h *Handle) AddDestination(ctx context.Context, svc Service, d Destination) error {
	return h.Batch(ctx, []Request{{Op: OpAddDestination, Service: svc, Destination: d}})[0]
}

// UpdateDestination sets the forwarding method, weight and thresholds of
// the existing destination d.Key() of svc to d's. Its connections stay.
//
// Equivalent to: ipvsadm -e -u VIP:PORT -r RIP:PORT -m -w 2
func (h *Handle) UpdateDestination(ctx context.Context, svc Service, d Destination) error {
	return h.Batch(ctx, []Request{{Op: OpUpdateDestination, Service: svc, Destination: d}})[0]
}

// DeleteDestination removes the destination d.Key() from svc.
//
// Equivalent to: ipvsadm -d -u VIP:PORT -r RIP:PORT
func (h *Handle) DeleteDestination(ctx context.Context, svc Service, d Destination) error {
	return h.Batch(ctx, []Request{{Op: OpDeleteDestination, Service: svc, Destination: d}})[0]
}

// svcErr names what the kernel's errno means for a service request.
func svcErr(err error, svc Service) error {
	switch {
	case errors.Is(err, unix.ESRCH):
		return fmt.Errorf("no such service: %w", ErrNotFound)
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("service %w", ErrExists)
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%w: %q (kernel module ip_vs_%s not found)", ErrNoScheduler, svc.Scheduler, svc.Scheduler)
	}
	return err
}

// destErr names what the kernel's errno means for a destination request.
func destErr(err error, verb string) error {
	switch {
	case errors.Is(err, unix.ESRCH):
		return fmt.Errorf("no such service: %w", ErrNotFound)
	case errors.Is(err, unix.EEXIST):
		return fmt.Errorf("destination %w", ErrExists)
	case errors.Is(err, unix.ENOENT) && verb != "add":
		return fmt.Errorf("no such destination: %w", ErrNotFound)
	}
	return err
}

func family(a netip.Addr) uint16 {
	if a.Is4() {
		return syscall.AF_INET
	}
	return syscall.AF_INET6
}

func toMobyService(s Service) (*moby.Service, error) {
	if !s.Address.IsValid() {
		return nil, errors.New("no address")
	}
	if s.Address.Is4In6() {
		return nil, errors.New("IPv4-mapped IPv6 address; write it as IPv4")
	}
	addr := s.Address
	netmask := s.Netmask
	if netmask == 0 {
		netmask = DefaultNetmask(addr)
	}
	ms := &moby.Service{
		AddressFamily: family(addr),
		SchedName:     s.Scheduler,
		Flags:         uint32(s.Flags &^ FlagHashed),
		Timeout:       s.Timeout,
		Netmask:       kernelNetmask(addr, netmask),
	}
	if s.FWMark != 0 {
		ms.FWMark = s.FWMark
	} else {
		ms.Address = net.IP(addr.AsSlice())
		ms.Protocol = uint16(s.Protocol)
		ms.Port = s.Port
	}
	return ms, nil
}

func fromMobyService(m *moby.Service) (Service, error) {
	s := Service{
		Protocol:  Protocol(m.Protocol),
		Port:      m.Port,
		FWMark:    m.FWMark,
		Scheduler: m.SchedName,
		Flags:     Flags(m.Flags) &^ FlagHashed,
		Timeout:   m.Timeout,
		Stats:     fromMobyStats(m.Stats),
	}
	switch {
	case len(m.Address) > 0:
		a, ok := netip.AddrFromSlice(m.Address)
		if !ok {
			return Service{}, fmt.Errorf("kernel returned an invalid service address %v", m.Address)
		}
		s.Address = a.Unmap()
	case m.AddressFamily == syscall.AF_INET6:
		s.Address = netip.IPv6Unspecified()
	default:
		s.Address = netip.IPv4Unspecified()
	}
	s.Netmask = kernelNetmask(s.Address, m.Netmask)
	if s.FWMark != 0 {
		s.Protocol = 0
		s.Port = 0
		if s.Address.Is6() {
			s.Address = netip.IPv6Unspecified()
		} else {
			s.Address = netip.IPv4Unspecified()
		}
	}
	return s, nil
}

// kernelNetmask converts an IPv4 netmask between hala's form (the mask as
// a number, 255.255.255.0 = 0xffffff00) and the kernel's (the mask's bytes
// in network order, which moby/ipvs passes through as a native-endian
// number). The conversion is its own inverse. An IPv6 netmask is a prefix
// length in both.
func kernelNetmask(addr netip.Addr, m uint32) uint32 {
	if !addr.Is4() {
		return m
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], m)
	return binary.NativeEndian.Uint32(b[:])
}

func fromMobyDestination(m *moby.Destination) (Destination, error) {
	a, ok := netip.AddrFromSlice(m.Address)
	if !ok {
		return Destination{}, fmt.Errorf("kernel returned an invalid destination address %v", m.Address)
	}
	a = a.Unmap()
	return Destination{
		Address:        a,
		Port:           m.Port,
		Forwarding:     Forwarding(m.ConnectionFlags) & forwardingMask,
		Weight:         m.Weight,
		UpperThreshold: m.UpperThreshold,
		LowerThreshold: m.LowerThreshold,
		ActiveConns:    m.ActiveConnections,
		InactiveConns:  m.InactiveConnections,
		Stats:          fromMobyStats(moby.SvcStats(m.Stats)),
	}, nil
}

func fromMobyStats(s moby.SvcStats) Stats {
	return Stats{
		Connections: uint64(s.Connections),
		PacketsIn:   uint64(s.PacketsIn),
		PacketsOut:  uint64(s.PacketsOut),
		BytesIn:     s.BytesIn,
		BytesOut:    s.BytesOut,
		CPS:         uint64(s.CPS),
		PPSIn:       uint64(s.PPSIn),
		PPSOut:      uint64(s.PPSOut),
		BPSIn:       uint64(s.BPSIn),
		BPSOut:      uint64(s.BPSOut),
	}
}
