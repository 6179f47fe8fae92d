package inventory

// Rules for the [[vip]] table: VRRP settings, addresses and priorities.

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

const (
	minAdvert = 10 * time.Millisecond
	maxAdvert = 255 * time.Second
)

func (c *checker) vips() {
	vs := c.inv.VIPs
	if len(vs) == 0 {
		c.errorf("vip", "at least one [[vip]] is required")
		return
	}
	names := map[string]int{}
	addrs := map[netip.Addr]int{}
	type vrid struct {
		id  int
		is4 bool
	}
	ids := map[vrid]int{}
	var dirFamily netip.Addr
	if len(c.inv.Directors) > 0 {
		dirFamily = c.inv.Directors[0].Address
	}
	for i, v := range vs {
		key := indexKey("vip", i)
		c.name(key+".name", v.Name, "the VIP's name")
		if j, dup := names[v.Name]; dup && v.Name != "" {
			c.errorf(key+".name", "%q is also the name of %s", v.Name, c.ref(indexKey("vip", j)))
		} else if v.Name != "" {
			names[v.Name] = i
		}

		switch {
		case c.inv.Cluster.HA != HAVRRP && v.RouterID == 0:
			// No VRRP instance: the VIP needs no virtual_router_id.
		case v.RouterID == 0 && !c.set(key+".router_id"):
			c.errorf(key+".router_id", "required: the VRRP virtual_router_id (1-255), unique among the VRRP instances on the directors' network")
		case v.RouterID == 0:
			// hala import writes 0 for a virtual_server address no vrrp_instance holds.
			c.placeholder(key+".router_id", "0 is out of range 1-255 (hala import's placeholder where no vrrp_instance holds a virtual_server's address): set a VRRP virtual_router_id no other VRRP instance on the directors' network uses")
		case v.RouterID < 1 || v.RouterID > 255:
			c.errorf(key+".router_id", "%d is out of range 1-255", v.RouterID)
		case v.Address.IsValid():
			// Instances of one family share a socket per interface, and
			// every VIP runs on every director: ids must differ.
			k := vrid{v.RouterID, v.Address.Addr().Is4()}
			if j, dup := ids[k]; dup {
				c.errorf(key+".router_id", "%d is already used by %s on the same interface; each VRRP instance needs its own id", v.RouterID, c.ref(indexKey("vip", j)))
			} else {
				ids[k] = i
			}
		}

		if !v.Address.IsValid() {
			c.errorf(key+".address", "required: the virtual address with its prefix, e.g. \"192.168.1.230/24\"")
		} else {
			c.vipAddress(key, i, v, addrs, dirFamily)
		}

		c.vipVRRP(key, i, v)
		if v.Interface != "" {
			c.ifname(key+".interface", v.Interface)
		}
		c.vrrpVersion(key, v)

		if v.Master != "" {
			if _, ok := c.inv.Director(v.Master); !ok && !c.unsure("director") {
				c.errorf(key+".master", "%q names no [[director]] (known: %s)", v.Master, known(directorNames(c.inv)))
			} else if ok {
				c.masterPriority(key, v)
			}
		}
	}
}

// vrrpVersion checks a VIP's vrrp_version against what its advert
// interval, address family and password need.
func (c *checker) vrrpVersion(key string, v VIP) {
	k := key + ".vrrp_version"
	switch v.VRRPVersion {
	case 0:
	case 2:
		if v.AdvertInterval.Duration%time.Second != 0 {
			c.errorf(k, "2 cannot advertise every %s: below whole seconds needs version 3", v.AdvertInterval.Duration)
		}
		if v.Address.IsValid() && v.Address.Addr().Is6() {
			c.errorf(k, "2 is IPv4 only: an IPv6 VIP advertises VRRP version 3")
		}
	case 3:
		if v.VRRPAuthPass != "" {
			c.errorf(k, "3 has no authentication: set vrrp_auth_pass = \"\" on this VIP")
		}
	default:
		c.errorf(k, "%d is not a VRRP version keepalived speaks (2 or 3)", v.VRRPVersion)
	}
}

// authPass checks a VRRP PASS password (cluster or per-VIP).
func (c *checker) authPass(key, p string) {
	if len(p) > 8 {
		c.errorf(key, "is %d characters; keepalived's PASS authentication uses at most 8 (it would silently cut the rest)", len(p))
	}
	for _, r := range p {
		if r <= ' ' || r > '~' || r == '"' || r == '\\' || r == '\'' {
			c.errorf(key, "contains %q: use printable ASCII without spaces, quotes or backslashes", r)
			break
		}
	}
}

// advert checks a VRRP advert interval (cluster or per-VIP).
func (c *checker) advert(key string, adv time.Duration) {
	if adv < minAdvert || adv > maxAdvert {
		c.errorf(key, "%s is outside keepalived's range 10ms-255s", adv)
	} else if adv%minAdvert != 0 {
		c.errorf(key, "%s is not a multiple of 10ms (VRRP counts centiseconds)", adv)
	}
}

// ownAuthPass reports whether VIP i sets its own vrrp_auth_pass.
func (c *checker) ownAuthPass(i int, v VIP) bool {
	return c.set(indexKey("vip", i)+".vrrp_auth_pass") || v.VRRPAuthPass != c.inv.Cluster.VRRPAuthPass
}

// vipVRRP checks VIP i's own advert_interval and vrrp_auth_pass (hala
// import writes them when keepalived.conf's instances differ); what the
// VIP takes from the cluster is checked there.
func (c *checker) vipVRRP(key string, i int, v VIP) {
	ownAdvert := c.set(key+".advert_interval") || v.AdvertInterval != c.inv.Cluster.AdvertInterval
	ownPass := c.ownAuthPass(i, v)
	if ownAdvert {
		c.advert(key+".advert_interval", v.AdvertInterval.Duration)
	}
	if ownPass && v.VRRPAuthPass != "" {
		c.authPass(key+".vrrp_auth_pass", v.VRRPAuthPass)
	}
	if v.VRRPAuthPass == "" || !ownAdvert && !ownPass {
		return
	}
	k := key + ".vrrp_auth_pass"
	if !ownPass {
		k = key + ".advert_interval"
	}
	if adv := v.AdvertInterval.Duration; adv%time.Second != 0 {
		c.errorf(k, "password set but advert_interval %s is not whole seconds, which needs VRRP version 3, which has no authentication: use whole seconds or vrrp_auth_pass = \"\"", adv)
	}
	if ownPass && v.Address.IsValid() && v.Address.Addr().Is6() && c.sameFamilyAsDirectors(v) {
		c.errorf(k, "is set but the VIP is IPv6, which needs VRRP version 3, which has no authentication: use vrrp_auth_pass = \"\"")
	}
}

func (c *checker) vipAddress(key string, i int, v VIP, addrs map[netip.Addr]int, dirFamily netip.Addr) {
	a, bits := v.Address.Addr(), v.Address.Bits()
	k := key + ".address"
	switch {
	case a.IsLoopback():
		c.errorf(k, "%s is a loopback address: every host has it on lo, so clients could never reach the VIP on a director and VRRP would have nothing to move; use an address of the directors' network", a)
		return
	case a.IsUnspecified() || a.IsMulticast():
		c.errorf(k, "%s is not a usable virtual address (unspecified or multicast)", a)
		return
	}
	if dirFamily.IsValid() && dirFamily.Is4() != a.Is4() {
		c.errorf(k, "%s is %s but the directors are %s: keepalived needs the directors' family on the VRRP interface", v.Address, family(a), family(dirFamily))
		return
	}
	if j, dup := addrs[a]; dup {
		c.errorf(k, "%s is also the address of %s", a, c.ref(indexKey("vip", j)))
	} else {
		addrs[a] = i
	}
	for j, d := range c.inv.Directors {
		if d.Address == a {
			c.errorf(k, "%s is %s's own address; a VIP needs an address of its own", a, c.ref(indexKey("director", j)))
		}
	}
	for j, l := range c.inv.Logstash {
		if l.Address == a {
			c.errorf(k, "%s is %s's own address; a VIP needs an address of its own", a, c.ref(indexKey("logstash", j)))
		}
	}
	if bits < a.BitLen()-1 {
		masked := v.Address.Masked()
		if a == masked.Addr() {
			c.errorf(k, "%s is the network address of %s; pick a host address", a, masked)
		} else if a.Is4() && a == lastAddr(masked) {
			c.errorf(k, "%s is the broadcast address of %s; pick a host address", a, masked)
		}
	}
	if bits < a.BitLen() {
		masked := v.Address.Masked()
		var outside []string
		for _, d := range c.inv.Directors {
			if d.Address.IsValid() && !d.Address.IsUnspecified() && !masked.Contains(d.Address) {
				outside = append(outside, fmt.Sprintf("%s (%s)", quote(d.Name), d.Address))
			}
		}
		if len(outside) > 0 {
			c.errorf(k, "director %s is outside %s: use /%d for a VIP off the directors' subnet", strings.Join(outside, ", "), masked, a.BitLen())
		}
	}
}

// sameFamilyAsDirectors reports whether v has the directors' address
// family (when not, that is reported on v itself).
func (c *checker) sameFamilyAsDirectors(v VIP) bool {
	if len(c.inv.Directors) == 0 || !c.inv.Directors[0].Address.IsValid() {
		return true
	}
	return c.inv.Directors[0].Address.Is4() == v.Address.Addr().Is4()
}

// lastAddr returns the last address of an IPv4 prefix (its broadcast).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n |= host
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// masterPriority checks that explicit director priorities leave v's master
// as its single preferred holder.
func (c *checker) masterPriority(key string, v VIP) {
	master, _ := c.inv.Director(v.Master)
	mp := c.inv.Priority(v, master)
	for _, d := range c.inv.Directors {
		if d.Name == master.Name {
			continue
		}
		if p := c.inv.Priority(v, d); p >= mp {
			k := key + ".master"
			if !c.set(k) {
				k = key
			}
			c.errorf(k, "master %q has priority %d but director %q has %d: each VIP needs one preferred master (raise the master's priority or drop the explicit priorities)", master.Name, mp, d.Name, p)
			return
		}
	}
}
