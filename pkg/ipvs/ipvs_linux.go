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
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// DefaultTimeout bounds one netlink call when the caller's context has no
// earlier deadline. A dump of a few thousand services takes milliseconds.
const DefaultTimeout = 5 * time.Second

// Handle reads and writes the IPVS table of one network namespace. Its
// methods are safe for concurrent use: calls are serialised on one netlink
// socket, each under a deadline.
type Handle struct {
	// Timeout bounds each netlink call (DefaultTimeout when 0). Set it
	// before the first call.
	Timeout time.Duration

	path   string
	mu     sync.Mutex
	h      *moby.Handle // nil after Close or after a call timed out
	closed bool
	writes atomic.Uint64
}

// New returns a Handle bound to the network namespace at nsPath (such as
// /run/netns/NAME or /proc/PID/ns/net); "" means the caller's namespace.
// It fails, wrapping ErrUnsupported, when the kernel has no IPVS.
func New(nsPath string) (*Handle, error) {
	if err := probe(nsPath); err != nil {
		return nil, err
	}
	h := &Handle{path: nsPath}
	mh, err := h.open()
	if err != nil {
		return nil, err
	}
	h.h = mh
	return h, nil
}

// probe asks generic netlink, in the target namespace, for the "IPVS"
// family: moby/ipvs would silently talk to family 0 without it.
func probe(nsPath string) error {
	ns := netns.None()
	if nsPath != "" {
		var err error
		ns, err = netns.GetFromPath(nsPath)
		if err != nil {
			return fmt.Errorf("open network namespace %s: %w", nsPath, err)
		}
		defer ns.Close()
	}
	nh, err := netlink.NewHandleAt(ns, unix.NETLINK_GENERIC)
	if err != nil {
		return fmt.Errorf("open generic netlink socket: %w", err)
	}
	defer nh.Close()
	if err := nh.SetSocketTimeout(DefaultTimeout); err != nil {
		return fmt.Errorf("set netlink timeout: %w", err)
	}
	if _, err := nh.GenlFamilyGet("IPVS"); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("%w: the kernel has no generic netlink family \"IPVS\" (ip_vs module not loaded)", ErrUnsupported)
		}
		return fmt.Errorf("probe IPVS: %w", err)
	}
	return nil
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

// Close releases the netlink socket. The Handle is unusable afterwards.
func (h *Handle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.h != nil {
		h.h.Close()
		h.h = nil
	}
	return nil
}

// Writes returns how many requests that change the table (add, update,
// delete) this Handle has sent, successful or not.
func (h *Handle) Writes() uint64 { return h.writes.Load() }

// do runs f on the netlink socket under the lock and a deadline. When the
// deadline passes or ctx is cancelled, the socket is closed (which unblocks
// f) and a fresh one is opened on the next call.
func (h *Handle) do(ctx context.Context, write bool, f func(*moby.Handle) error) error {
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
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	mh := h.h
	stop := context.AfterFunc(cctx, mh.Close)
	if write {
		h.writes.Add(1)
	}
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

// Services returns every virtual service in the table, with counters.
//
// Equivalent to: ipvsadm -Ln --stats
func (h *Handle) Services(ctx context.Context) ([]Service, error) {
	var ms []*moby.Service
	err := h.do(ctx, false, func(mh *moby.Handle) error {
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
	err = h.do(ctx, false, func(mh *moby.Handle) error {
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
	return h.writeService(ctx, "add", svc, func(mh *moby.Handle, ms *moby.Service) error { return mh.NewService(ms) })
}

// UpdateService sets every field of the existing service svc.Key() to
// svc's: scheduler, flags, timeout and netmask. Destinations and their
// connections stay.
//
// Equivalent to: ipvsadm -E -u VIP:PORT -s rr [-o] [-p TIMEOUT]
func (h *Handle) UpdateService(ctx context.Context, svc Service) error {
	return h.writeService(ctx, "update", svc, func(mh *moby.Handle, ms *moby.Service) error { return mh.UpdateService(ms) })
}

// DeleteService removes svc and, with it, its destinations.
//
// Equivalent to: ipvsadm -D -u VIP:PORT
func (h *Handle) DeleteService(ctx context.Context, svc Service) error {
	if svc.Scheduler == "" {
		svc.Scheduler = "rr" // not compared by the kernel on delete
	}
	return h.writeService(ctx, "delete", svc, func(mh *moby.Handle, ms *moby.Service) error { return mh.DelService(ms) })
}

func (h *Handle) writeService(ctx context.Context, verb string, svc Service, f func(*moby.Handle, *moby.Service) error) error {
	if err := svc.Validate(); err != nil {
		return fmt.Errorf("%s service: %w", verb, err)
	}
	ms, err := toMobyService(svc)
	if err != nil {
		return fmt.Errorf("%s service %s: %w", verb, svc.Key(), err)
	}
	err = h.do(ctx, true, func(mh *moby.Handle) error { return f(mh, ms) })
	if err != nil {
		return fmt.Errorf("%s service %s: %w", verb, svc.Key(), svcErr(err, svc))
	}
	return nil
}

// AddDestination adds d to the existing service svc.
//
// Equivalent to: ipvsadm -a -u VIP:PORT -r RIP:PORT -m -w 1
func (h *Handle) AddDestination(ctx context.Context, svc Service, d Destination) error {
	return h.writeDestination(ctx, "add", svc, d, func(mh *moby.Handle, ms *moby.Service, md *moby.Destination) error {
		return mh.NewDestination(ms, md)
	})
}

// UpdateDestination sets the forwarding method, weight and thresholds of
// the existing destination d.Key() of svc to d's. Its connections stay.
//
// Equivalent to: ipvsadm -e -u VIP:PORT -r RIP:PORT -m -w 2
func (h *Handle) UpdateDestination(ctx context.Context, svc Service, d Destination) error {
	return h.writeDestination(ctx, "update", svc, d, func(mh *moby.Handle, ms *moby.Service, md *moby.Destination) error {
		return mh.UpdateDestination(ms, md)
	})
}

// DeleteDestination removes the destination d.Key() from svc.
//
// Equivalent to: ipvsadm -d -u VIP:PORT -r RIP:PORT
func (h *Handle) DeleteDestination(ctx context.Context, svc Service, d Destination) error {
	return h.writeDestination(ctx, "delete", svc, d, func(mh *moby.Handle, ms *moby.Service, md *moby.Destination) error {
		return mh.DelDestination(ms, md)
	})
}

func (h *Handle) writeDestination(ctx context.Context, verb string, svc Service, d Destination, f func(*moby.Handle, *moby.Service, *moby.Destination) error) error {
	if svc.Scheduler == "" {
		svc.Scheduler = "rr" // the kernel looks services up by key only
	}
	ms, err := toMobyService(svc)
	if err != nil {
		return fmt.Errorf("%s destination %s on %s: %w", verb, d.Key(), svc.Key(), err)
	}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("%s destination on %s: %w", verb, svc.Key(), err)
	}
	if d.Address.Is4() != svc.Address.Is4() {
		return fmt.Errorf("%s destination %s on %s: address family differs from the service's", verb, d.Key(), svc.Key())
	}
	md := toMobyDestination(d)
	err = h.do(ctx, true, func(mh *moby.Handle) error { return f(mh, ms, md) })
	if err != nil {
		return fmt.Errorf("%s destination %s on %s: %w", verb, d.Key(), svc.Key(), destErr(err, verb))
	}
	return nil
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

func toMobyDestination(d Destination) *moby.Destination {
	addr := d.Address.Unmap()
	return &moby.Destination{
		Address:         net.IP(addr.AsSlice()),
		Port:            d.Port,
		Weight:          d.Weight,
		ConnectionFlags: uint32(d.Forwarding & forwardingMask),
		AddressFamily:   family(addr),
		UpperThreshold:  d.UpperThreshold,
		LowerThreshold:  d.LowerThreshold,
	}
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
