//go:build linux

package ipvs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultTimeout bounds one netlink call when the caller's context has no
// earlier deadline. A dump of a few thousand services takes milliseconds.
const DefaultTimeout = 5 * time.Second

// Handle reads and writes the IPVS table of one network namespace. Its
// methods are safe for concurrent use: calls are serialised, each under a
// deadline.
//
// Every call goes through hala's own generic netlink client (see
// netlink_linux.go), which pipelines writes.
type Handle struct {
	// Timeout bounds each netlink call (DefaultTimeout when 0). Set it
	// before the first call.
	Timeout time.Duration

	path   string
	mu     sync.Mutex
	c      *conn // nil after Close or after a transport error
	closed bool
	writes atomic.Uint64
}

// New returns a Handle bound to the network namespace at nsPath (such as
// /run/netns/NAME or /proc/PID/ns/net); "" means the caller's namespace.
// It fails, wrapping ErrUnsupported, when the kernel has no IPVS: it asks
// generic netlink for the "IPVS" family first.
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

// Close releases the netlink socket. The Handle is unusable afterwards.
func (h *Handle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.c != nil {
		h.c.close()
		h.c = nil
	}
	return nil
}

// Writes returns how many requests that change the table (add, update,
// delete) this Handle has sent, successful or not.
func (h *Handle) Writes() uint64 { return h.writes.Load() }

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
//
// Equivalent to: ipvsadm-restore (with -A/-E/-D/-a/-e/-d lines)
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

// kernelNetmask converts an IPv4 netmask between hala's form (the mask as
// a number, 255.255.255.0 = 0xffffff00) and the kernel's (the mask's bytes
// in network order, carried in a native-endian u32 attribute). The
// conversion is its own inverse. An IPv6 netmask is a prefix length in
// both.
func kernelNetmask(addr netip.Addr, m uint32) uint32 {
	if !addr.Is4() {
		return m
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], m)
	return binary.NativeEndian.Uint32(b[:])
}
