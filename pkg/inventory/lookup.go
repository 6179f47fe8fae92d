package inventory

import "net/netip"

// Lookups used by render and reconcile. They assume a validated inventory
// (Load/Parse return one), in which every name they are given exists.

// Director returns the director called name.
func (inv *Inventory) Director(name string) (Director, bool) {
	for _, d := range inv.Directors {
		if d.Name == name {
			return d, true
		}
	}
	return Director{}, false
}

// LogstashHost returns the Logstash host called name.
func (inv *Inventory) LogstashHost(name string) (Logstash, bool) {
	for _, l := range inv.Logstash {
		if l.Name == name {
			return l, true
		}
	}
	return Logstash{}, false
}

// VIP returns the VIP called name.
func (inv *Inventory) VIP(name string) (VIP, bool) {
	for _, v := range inv.VIPs {
		if v.Name == name {
			return v, true
		}
	}
	return VIP{}, false
}

// Backends returns the Logstash hosts behind svc, in the inventory's order
// of svc.Backends (after defaults: every [[logstash]] host).
func (inv *Inventory) Backends(svc Service) []Logstash {
	out := make([]Logstash, 0, len(svc.Backends))
	for _, name := range svc.Backends {
		if l, ok := inv.LogstashHost(name); ok {
			out = append(out, l)
		}
	}
	return out
}

// ServicesOn returns the services on the VIP called vip, in file order.
func (inv *Inventory) ServicesOn(vip string) []Service {
	var out []Service
	for _, s := range inv.Services {
		if s.VIP == vip {
			out = append(out, s)
		}
	}
	return out
}

// Priority returns the VRRP priority of director d for vip: the VIP's
// master gets 150, the others strictly lower and distinct, so every VIP has
// exactly one preferred master and no tie is broken by IP address. Backups
// count down from 100 in file order; with more than 100 backups they count
// down from 149 instead, and beyond 149 backups (more than VRRP's range
// leaves room for) the rest share priority 1 (validation warns).
// A director's explicit Priority overrides the derived value.
func (inv *Inventory) Priority(vip VIP, d Director) int {
	if d.Priority != 0 {
		return d.Priority
	}
	if d.Name == vip.Master {
		return MasterPriority
	}
	rank := 0
	for _, o := range inv.Directors {
		if o.Name == d.Name {
			break
		}
		if o.Name != vip.Master {
			rank++
		}
	}
	top := 100
	if backups := len(inv.Directors) - 1; backups > top {
		top = MasterPriority - 1
	}
	p := top - rank
	if p < 1 {
		p = 1
	}
	return p
}

// MasterPriority is the derived VRRP priority of a VIP's preferred master.
const MasterPriority = 150

// MaxDistinctBackups is how many backups of one VIP get distinct derived
// priorities (1..149, below the master's 150).
const MaxDistinctBackups = MasterPriority - 1

// InterfaceOf is the interface director d runs VIP v's VRRP instance on
// and holds its address on: the VIP's own interface, else the director's.
func (inv *Inventory) InterfaceOf(v VIP, d Director) string {
	if v.Interface != "" {
		return v.Interface
	}
	if d.Interface != "" {
		return d.Interface
	}
	return inv.Cluster.Interface
}

// VIPsOf returns the VIPs the director called node is master of (its
// [[vip]] master, or the spread defaults derive), in file order: the ones
// it holds when every director is up.
func (inv *Inventory) VIPsOf(node string) []VIP {
	var out []VIP
	for _, v := range inv.VIPs {
		if v.Master == node {
			out = append(out, v)
		}
	}
	return out
}

// Backend returns the [[logstash]] host whose name, or else address, is s.
func (inv *Inventory) Backend(s string) (Logstash, bool) {
	if l, ok := inv.LogstashHost(s); ok {
		return l, true
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return Logstash{}, false
	}
	for _, l := range inv.Logstash {
		if l.Address == addr.Unmap() {
			return l, true
		}
	}
	return Logstash{}, false
}
