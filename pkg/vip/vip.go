package vip

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrUnsupported is returned on systems without netlink (anything but Linux).
var ErrUnsupported = errors.New("virtual IP addresses need Linux netlink")

// ErrNoInterface is returned when an Address names an interface the
// namespace does not have.
var ErrNoInterface = errors.New("no such interface")

// ErrNotNamespace is returned by New for a path that is not a network
// namespace.
var ErrNotNamespace = errors.New("not a network namespace")

// Address is one virtual IP to hold on an interface.
type Address struct {
	// Name is the VIP's inventory name; it only labels messages.
	Name string
	// Prefix is the address with its prefix length, e.g. 192.168.1.230/24.
	Prefix netip.Prefix
	// Interface is the interface that holds the address, e.g. eth0.
	Interface string
}

// String gives the address as ip(8) would write it: "192.168.1.230/24 dev eth0".
func (a Address) String() string {
	return fmt.Sprintf("%s dev %s", a.Prefix, a.Interface)
}

// Action says what Add or Delete did to one address.
type Action int

const (
	// Unchanged means the interface was already as asked.
	Unchanged Action = iota
	// Added means the address was put on the interface.
	Added
	// Replaced means the address was on the interface with another prefix
	// length, which was removed before the address was added.
	Replaced
	// Deleted means the address was taken off the interface.
	Deleted
)

// String names the action in the past tense.
func (a Action) String() string {
	switch a {
	case Added:
		return "added"
	case Replaced:
		return "replaced"
	case Deleted:
		return "deleted"
	default:
		return "unchanged"
	}
}

// Change is the outcome of Add or Delete for one address.
type Change struct {
	Address Address
	Action  Action
	// Old is the prefix that Replaced removed.
	Old netip.Prefix
}

// String describes the change with its shell equivalent, e.g.
// "vip1: added 192.168.1.230/24 dev eth0 (ip addr add 192.168.1.230/24 dev eth0)".
func (c Change) String() string {
	a := c.Address
	label := a.Name
	if label == "" {
		label = a.Prefix.Addr().String()
	}
	switch c.Action {
	case Added:
		return fmt.Sprintf("%s: added %s (ip addr add %s)", label, a, a)
	case Replaced:
		return fmt.Sprintf("%s: replaced %s with %s on %s (ip addr del %s dev %s; ip addr add %s)",
			label, c.Old, a.Prefix, a.Interface, c.Old, a.Interface, a)
	case Deleted:
		return fmt.Sprintf("%s: deleted %s (ip addr del %s)", label, a, a)
	default:
		return fmt.Sprintf("%s: %s unchanged", label, a)
	}
}

// State is what Show found for one address.
type State struct {
	Address Address
	// Present is true when the interface holds the address with its prefix length.
	Present bool
	// LinkUp is true when the interface is administratively up.
	LinkUp bool
	// Elsewhere lists other places that hold the same IP: "eth1" for another
	// interface, "eth0 (/32)" for the same interface with another prefix length.
	Elsewhere []string
	// Missing is true when the interface does not exist.
	Missing bool
}

// String gives one line of `hala vip show`, e.g.
// "vip1  192.168.1.230/24 dev eth0  present".
func (s State) String() string {
	label := s.Address.Name
	if label == "" {
		label = "-"
	}
	status := "absent"
	switch {
	case s.Missing:
		status = "absent (no interface " + s.Address.Interface + ")"
	case s.Present && !s.LinkUp:
		status = "present (interface down)"
	case s.Present:
		status = "present"
	}
	if len(s.Elsewhere) > 0 {
		status += ", also on " + strings.Join(s.Elsewhere, ", ")
	}
	return fmt.Sprintf("%s  %s  %s", label, s.Address, status)
}

func (a Address) validate() error {
	if !a.Prefix.IsValid() {
		return fmt.Errorf("vip %s: invalid address %s", a.Name, a.Prefix)
	}
	if a.Interface == "" {
		return fmt.Errorf("vip %s: no interface", a.Name)
	}
	return nil
}

// DummyInterface is the dummy interface hala director keeps the VIPs on
// with cluster.ha = "bgp": every director holds every VIP, and a dummy
// answers no ARP or ND for them on the shared segment.
const DummyInterface = "hala0"
