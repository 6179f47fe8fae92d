//go:build linux

package vip

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// callTimeout bounds every netlink request, so a lost reply fails the
// command instead of hanging it.
const callTimeout = 5 * time.Second

// Handle changes interface addresses in one network namespace. Its methods
// are safe for concurrent use; calls are serialised on one netlink socket.
type Handle struct {
	mu sync.Mutex
	nl *netlink.Handle
}

// New returns a Handle bound to the network namespace at nsPath (such as
// /run/netns/NAME or /proc/PID/ns/net); "" means the caller's namespace.
func New(nsPath string) (*Handle, error) {
	ns := netns.None()
	if nsPath != "" {
		var err error
		ns, err = netns.GetFromPath(nsPath)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is in the message already
			}
			return nil, fmt.Errorf("network namespace %s: %w", nsPath, err)
		}
		defer ns.Close()
		// setns would only say "invalid argument" for a regular file.
		var st unix.Statfs_t
		if err := unix.Fstatfs(int(ns), &st); err != nil || st.Type != unix.NSFS_MAGIC {
			return nil, fmt.Errorf("%s: %w (use a path such as /run/netns/NAME or /proc/PID/ns/net)", nsPath, ErrNotNamespace)
		}
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink socket: %w", err)
	}
	if err := h.SetSocketTimeout(callTimeout); err != nil {
		h.Close()
		return nil, fmt.Errorf("set netlink timeout: %w", err)
	}
	return &Handle{nl: h}, nil
}

// Close releases the netlink socket.
func (h *Handle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nl != nil {
		h.nl.Close()
		h.nl = nil
	}
	return nil
}

// Add puts a on its interface unless it is already there. When the
// interface holds the same IP with another prefix length, that address is
// removed first (Replaced). Other addresses are never touched.
//
// Equivalent to: ip addr add PREFIX dev IFACE
func (h *Handle) Add(a Address) (Change, error) {
	if err := a.validate(); err != nil {
		return Change{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	link, addrs, err := h.linkAddrs(a)
	if err != nil {
		return Change{}, err
	}
	c := Change{Address: a, Action: Added}
	for _, p := range addrs {
		if p.Addr() != a.Prefix.Addr() {
			continue
		}
		if p.Bits() == a.Prefix.Bits() {
			return Change{Address: a, Action: Unchanged}, nil
		}
		if err := h.nl.AddrDel(link, nlAddr(p)); err != nil {
			return Change{}, fmt.Errorf("delete %s dev %s: %w", p, a.Interface, err)
		}
		c.Action, c.Old = Replaced, p
	}
	if err := h.nl.AddrAdd(link, nlAddr(a.Prefix)); err != nil {
		return Change{}, fmt.Errorf("add %s: %w", a, err)
	}
	return c, nil
}

// Delete takes a off its interface if it is there (with a's prefix length).
// A missing interface is an error wrapping ErrNoInterface, as for Add: it
// most likely means a wrong interface name, and the VIP may be held on the
// right one.
//
// Equivalent to: ip addr del PREFIX dev IFACE
func (h *Handle) Delete(a Address) (Change, error) {
	if err := a.validate(); err != nil {
		return Change{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	link, addrs, err := h.linkAddrs(a)
	if err != nil {
		return Change{}, err
	}
	for _, p := range addrs {
		if p == a.Prefix {
			if err := h.nl.AddrDel(link, nlAddr(p)); err != nil {
				return Change{}, fmt.Errorf("delete %s: %w", a, err)
			}
			return Change{Address: a, Action: Deleted}, nil
		}
	}
	return Change{Address: a, Action: Unchanged}, nil
}

// Show reports, for each address, whether its interface holds it and where
// else in the namespace the same IP is configured.
//
// Equivalent to: ip addr show
func (h *Handle) Show(addrs []Address) ([]State, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	links, err := h.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	type held struct {
		ifname string
		prefix netip.Prefix
	}
	byIP := map[netip.Addr][]held{}
	up := map[string]bool{}
	for _, l := range links {
		attrs := l.Attrs()
		up[attrs.Name] = attrs.Flags&net.FlagUp != 0
		list, err := h.nl.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			return nil, fmt.Errorf("list addresses of %s: %w", attrs.Name, err)
		}
		for _, a := range list {
			p, ok := toPrefix(a)
			if ok {
				byIP[p.Addr()] = append(byIP[p.Addr()], held{attrs.Name, p})
			}
		}
	}
	out := make([]State, 0, len(addrs))
	for _, a := range addrs {
		linkUp, exists := up[a.Interface]
		s := State{Address: a, LinkUp: linkUp, Missing: !exists}
		for _, h := range byIP[a.Prefix.Addr()] {
			switch {
			case h.ifname == a.Interface && h.prefix == a.Prefix:
				s.Present = true
			case h.ifname == a.Interface:
				s.Elsewhere = append(s.Elsewhere, fmt.Sprintf("%s (/%d)", h.ifname, h.prefix.Bits()))
			default:
				s.Elsewhere = append(s.Elsewhere, h.ifname)
			}
		}
		sort.Strings(s.Elsewhere)
		out = append(out, s)
	}
	return out, nil
}

// linkAddrs returns a's interface and the prefixes on it of a's family.
func (h *Handle) linkAddrs(a Address) (netlink.Link, []netip.Prefix, error) {
	if h.nl == nil {
		return nil, nil, errors.New("vip handle is closed")
	}
	link, err := h.nl.LinkByName(a.Interface)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil, nil, fmt.Errorf("%s: %w %s", a.Name, ErrNoInterface, a.Interface)
		}
		return nil, nil, fmt.Errorf("find interface %s: %w", a.Interface, err)
	}
	family := netlink.FAMILY_V4
	if a.Prefix.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	list, err := h.nl.AddrList(link, family)
	if err != nil {
		return nil, nil, fmt.Errorf("list addresses of %s: %w", a.Interface, err)
	}
	var out []netip.Prefix
	for _, x := range list {
		if p, ok := toPrefix(x); ok {
			out = append(out, p)
		}
	}
	return link, out, nil
}

func toPrefix(a netlink.Addr) (netip.Prefix, bool) {
	if a.IPNet == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	bits, _ := a.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), bits), true
}

// nlAddr converts p to netlink's form. IPv6 VIPs skip duplicate address
// detection, as keepalived does, so they are usable at once.
func nlAddr(p netip.Prefix) *netlink.Addr {
	ip := net.IP(p.Addr().AsSlice())
	a := &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

// AddDummy creates the dummy interface name and sets it up, unless it
// exists (then it is only set up). A dummy holds addresses that are local
// to the host without answering ARP or ND for them on any segment.
//
// Equivalent to: ip link add NAME type dummy; ip link set NAME up
func (h *Handle) AddDummy(name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nl == nil {
		return errors.New("vip handle is closed")
	}
	link, err := h.nl.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return fmt.Errorf("find interface %s: %w", name, err)
		}
		if err := h.nl.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
			return fmt.Errorf("add dummy interface %s: %w", name, err)
		}
		if link, err = h.nl.LinkByName(name); err != nil {
			return fmt.Errorf("find interface %s: %w", name, err)
		}
	}
	if link.Type() != "dummy" {
		return fmt.Errorf("interface %s exists and is a %s, not a dummy", name, link.Type())
	}
	if err := h.nl.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}
