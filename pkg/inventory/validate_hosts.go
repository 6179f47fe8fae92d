package inventory

// Rules for the [[director]] and [[logstash]] host tables.

import (
	"fmt"
	"net/netip"
)

// hostSet tracks the names and addresses seen in one table of hosts
// ([[director]] or [[logstash]]), which must be unique within it.
type hostSet struct {
	table, nameWhat, addrWhat string
	names                     map[string]int
	addrs                     map[netip.Addr]int
}

func newHostSet(table, nameWhat, addrWhat string) *hostSet {
	return &hostSet{table: table, nameWhat: nameWhat, addrWhat: addrWhat,
		names: map[string]int{}, addrs: map[netip.Addr]int{}}
}

// host checks element i's name and address for presence, form and
// uniqueness within its table; it reports whether the address is usable
// for further checks.
func (c *checker) host(seen *hostSet, i int, name string, addr netip.Addr) bool {
	key := indexKey(seen.table, i)
	c.name(key+".name", name, seen.nameWhat)
	if j, dup := seen.names[name]; dup && name != "" {
		c.errorf(key+".name", "%q is also the name of %s", name, c.ref(indexKey(seen.table, j)))
	} else if name != "" {
		seen.names[name] = i
	}
	switch {
	case !addr.IsValid():
		c.errorf(key+".address", "required: %s", seen.addrWhat)
		return false
	case addr.IsUnspecified() && seen.table == "director":
		c.placeholder(key+".address", fmt.Sprintf("%s is a placeholder, not a host address: set the director's own address", addr))
		return false
	case addr.IsUnspecified() || addr.IsMulticast():
		c.errorf(key+".address", "%s is not a host address", addr)
		return false
	}
	if j, dup := seen.addrs[addr]; dup {
		c.errorf(key+".address", "%s is also the address of %s", addr, c.ref(indexKey(seen.table, j)))
	} else {
		seen.addrs[addr] = i
	}
	return true
}

func (c *checker) directors() {
	ds := c.inv.Directors
	if len(ds) == 0 {
		c.errorf("director", "at least one [[director]] is required")
		return
	}
	if len(ds) == 1 && !c.inv.Cluster.Unicast {
		c.warnf("director", "only one director: the VIPs have no failover")
	}
	if backups := len(ds) - 1; backups > MaxDistinctBackups {
		c.warnf("director", "%d directors: VRRP priorities leave room for %d backups of a VIP below its master (%d); the other %d share priority 1, so keepalived orders them by address: give the ones that matter an explicit priority", len(ds), MaxDistinctBackups, MasterPriority, backups-MaxDistinctBackups+1)
	}
	seen := newHostSet("director", "the director's host name", "the director's own IP address")
	for i, d := range ds {
		key := indexKey("director", i)
		if c.host(seen, i, d.Name, d.Address) {
			if first := ds[0].Address; i > 0 && first.IsValid() && first.Is4() != d.Address.Is4() {
				c.errorf(key+".address", "%s is %s but %s is %s: all directors need one address family", d.Address, family(d.Address), c.ref("director[0]"), family(first))
			}
		}
		if d.Interface == "" {
			c.errorf(key+".interface", "no VRRP interface: set cluster.interface or this director's interface")
		} else if d.Interface != c.inv.Cluster.Interface || c.set(key+".interface") {
			c.ifname(key+".interface", d.Interface)
		}
		if d.Priority != 0 && (d.Priority < 1 || d.Priority > 254) {
			c.errorf(key+".priority", "%d is out of range 1-254 (255 is reserved for the VRRP address owner; leave it out to derive it)", d.Priority)
		}
	}
}

func (c *checker) logstash() {
	ls := c.inv.Logstash
	if len(ls) == 0 {
		c.errorf("logstash", "at least one [[logstash]] host is required")
		return
	}
	seen := newHostSet("logstash", "the Logstash host's name", "the Logstash host's IP address")
	for i, l := range ls {
		key := indexKey("logstash", i)
		if c.host(seen, i, l.Name, l.Address) {
			// A director and a Logstash host may be one machine (as in the
			// classic two-node setup); then name and address must agree,
			// since each host's files go to one directory.
			// Compare with the first director of that name or address
			// (duplicates among directors are reported on their own).
			if j := c.directorIndex(func(d Director) bool { return d.Name == l.Name }); j >= 0 && l.Name != "" {
				if d := c.inv.Directors[j]; d.Address.IsValid() && d.Address != l.Address {
					c.errorf(key+".address", "%s differs from %s's %s: a director and a Logstash host with one name are one host", l.Address, c.ref(indexKey("director", j)), d.Address)
				}
			}
			if j := c.directorIndex(func(d Director) bool { return d.Address == l.Address }); j >= 0 {
				if d := c.inv.Directors[j]; d.Name != l.Name {
					c.errorf(key+".address", "%s is %s's address: a host that is both director and Logstash node needs one name", l.Address, c.ref(indexKey("director", j)))
				}
			}
		}
		// An inherited api_port is cluster.api_port, checked there.
		if c.set(key+".api_port") || l.APIPort != c.inv.Cluster.APIPort {
			c.port(key+".api_port", l.APIPort)
		}
	}
}
