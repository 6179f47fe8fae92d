package inventory

import (
	"net/netip"
	"strings"
	"time"
)

// Values of cluster.ha.
const (
	HAVRRP = "vrrp"
	HABGP  = "bgp"
)

// Defaults of the [bgp] keys.
const (
	DefaultHA            = HAVRRP
	DefaultHoldTime      = 9 * time.Second
	DefaultBFDInterval   = 300 * time.Millisecond
	DefaultBFDMultiplier = 3
	DefaultWithdrawDelay = 2 * time.Second
	DefaultMinHealthy    = 1

	// MinHoldTime is the shortest hold time hala accepts: RFC 4271 allows
	// 3s, and BFD, not the hold timer, is the fast failure detector.
	MinHoldTime = 3 * time.Second
	// MinBFDInterval is the shortest BFD interval hala accepts: below it
	// a loaded director misses its own transmit slots and flaps.
	MinBFDInterval = 50 * time.Millisecond
)

// BGP is the [bgp] table: how every director announces the VIPs.
type BGP struct {
	// ASN is the directors' AS number (overridable per [[director]]).
	ASN uint32 `toml:"asn"`
	// RouterID is the BGP identifier (default: the director's IPv4
	// address). Set per [[director]] when directors are IPv6.
	RouterID netip.Addr `toml:"router_id"`
	// HoldTime is the BGP hold time (default 9s, at least 3s).
	HoldTime Duration `toml:"hold_time"`
	// Keepalive is the BGP keepalive interval (default hold_time / 3).
	Keepalive Duration `toml:"keepalive"`
	// GracefulRestart asks the routers to keep a restarting director's
	// routes for the restart time (RFC 4724; default false).
	GracefulRestart bool `toml:"graceful_restart"`
	// BFD runs BFD with every peer (default true).
	BFD bool `toml:"bfd"`
	// BFDInterval is the BFD transmit and receive interval (default 300ms).
	BFDInterval Duration `toml:"bfd_interval"`
	// BFDMultiplier is how many missed BFD packets bring a session down
	// (default 3).
	BFDMultiplier int `toml:"bfd_multiplier"`
	// WithdrawDelay is how long hala director waits after withdrawing its
	// VIPs on SIGTERM before it exits, for the routers to converge
	// (default 2s).
	WithdrawDelay Duration `toml:"withdraw_delay"`
	// Peers are the routers every director peers with.
	Peers []BGPPeer `toml:"peer"`
}

// BGPPeer is a [[bgp.peer]]: a router the directors announce the VIPs to.
type BGPPeer struct {
	Address netip.Addr `toml:"address"`
	ASN     uint32     `toml:"asn"`
	// PasswordFile holds the TCP MD5 password (RFC 2385); it must be
	// readable by its owner only.
	PasswordFile string `toml:"password_file"`
}

// UsesBGP reports whether the directors announce the VIPs over BGP.
func (inv *Inventory) UsesBGP() bool { return inv.Cluster.HA == HABGP }

// DirectorASN is d's AS number: its own asn, else bgp.asn.
func (inv *Inventory) DirectorASN(d Director) uint32 {
	if d.ASN != 0 {
		return d.ASN
	}
	return inv.BGP.ASN
}

// DirectorRouterID is d's BGP identifier: its own router_id, else
// bgp.router_id, else its address when that is IPv4 (invalid otherwise;
// validation reports it).
func (inv *Inventory) DirectorRouterID(d Director) netip.Addr {
	switch {
	case d.RouterID.IsValid():
		return d.RouterID
	case inv.BGP.RouterID.IsValid():
		return inv.BGP.RouterID
	case d.Address.Is4():
		return d.Address
	}
	return netip.Addr{}
}

func (inv *Inventory) setBGPDefaults() {
	set := inv.pos.has
	c := &inv.Cluster
	c.HA = strings.ToLower(c.HA)
	if c.HA == "" {
		c.HA = DefaultHA
	}
	b := &inv.BGP
	if b.HoldTime.Duration == 0 && !set("bgp.hold_time") {
		b.HoldTime.Duration = DefaultHoldTime
	}
	if b.Keepalive.Duration == 0 && !set("bgp.keepalive") {
		b.Keepalive.Duration = b.HoldTime.Duration / 3
	}
	if !set("bgp.bfd") {
		b.BFD = true
	}
	if b.BFDInterval.Duration == 0 && !set("bgp.bfd_interval") {
		b.BFDInterval.Duration = DefaultBFDInterval
	}
	if b.BFDMultiplier == 0 && !set("bgp.bfd_multiplier") {
		b.BFDMultiplier = DefaultBFDMultiplier
	}
	if b.WithdrawDelay.Duration == 0 && !set("bgp.withdraw_delay") {
		b.WithdrawDelay.Duration = DefaultWithdrawDelay
	}
	for i := range inv.Services {
		s := &inv.Services[i]
		if s.MinHealthy == 0 && !set(indexKey("service", i)+".min_healthy") {
			s.MinHealthy = DefaultMinHealthy
		}
	}
}

// validASN reports whether n can be a speaker's AS number: not 0, not
// AS_TRANS (23456), not the reserved 65535 and 4294967295.
func validASN(n uint32) bool {
	return n != 0 && n != 23456 && n != 65535 && n != 4294967295
}

const asnHint = "want 1-4294967294 except 23456 (AS_TRANS) and 65535; private ranges are 64512-65534 and 4200000000-4294967294"

func (c *checker) bgp() {
	cl, b := c.inv.Cluster, c.inv.BGP
	switch cl.HA {
	case HAVRRP, HABGP:
	default:
		c.errorf("cluster.ha", "%q: want %q (keepalived moves each VIP between directors) or %q (every director announces the VIPs to the routers over BGP)", cl.HA, HAVRRP, HABGP)
		return
	}
	bgpSet := c.set("bgp")
	if cl.HA != HABGP {
		if bgpSet {
			c.warnf("bgp", "is read only with cluster.ha = \"bgp\"; keepalived's VRRP moves the VIPs")
		}
		for i := range c.inv.Directors {
			for _, k := range []string{"asn", "router_id"} {
				if key := indexKey("director", i) + "." + k; c.set(key) {
					c.warnf(key, "is read only with cluster.ha = \"bgp\"")
				}
			}
		}
		for i := range c.inv.Services {
			if key := indexKey("service", i) + ".min_healthy"; c.set(key) {
				c.warnf(key, "is read only with cluster.ha = \"bgp\" (the announce watermark)")
			}
		}
		return
	}
	if cl.IPVS != IPVSDirector {
		c.errorf("cluster.ha", "\"bgp\" needs cluster.ipvs = \"director\": hala director runs the BGP speaker and decides when to announce")
	}
	for _, k := range []string{"cluster.vrrp_auth_pass", "cluster.unicast", "cluster.advert_interval"} {
		if c.set(k) {
			c.warnf(k, "is VRRP's and unused with cluster.ha = \"bgp\"")
		}
	}

	if b.ASN != 0 && !validASN(b.ASN) {
		c.errorf("bgp.asn", "%d is not a usable AS number: %s", b.ASN, asnHint)
	}
	dirFamily := netip.Addr{}
	if len(c.inv.Directors) > 0 {
		dirFamily = c.inv.Directors[0].Address
	}
	if b.RouterID.IsValid() {
		if !b.RouterID.Is4() {
			c.errorf("bgp.router_id", "%s: a BGP router id is a 32-bit number written as an IPv4 address", b.RouterID)
		} else if len(c.inv.Directors) > 1 {
			c.errorf("bgp.router_id", "%s would be every director's router id; each needs its own: set router_id per [[director]] or leave it out (default: the director's IPv4 address)", b.RouterID)
		}
	}
	ids := map[netip.Addr]int{}
	for i, d := range c.inv.Directors {
		key := indexKey("director", i)
		if d.ASN != 0 && !validASN(d.ASN) {
			c.errorf(key+".asn", "%d is not a usable AS number: %s", d.ASN, asnHint)
		} else if d.ASN == 0 && b.ASN == 0 && !c.set("bgp.asn") {
			c.errorf(key+".asn", "no AS number: set bgp.asn (every director) or this director's asn")
		}
		if d.RouterID.IsValid() && !d.RouterID.Is4() {
			c.errorf(key+".router_id", "%s: a BGP router id is a 32-bit number written as an IPv4 address", d.RouterID)
			continue
		}
		if !d.RouterID.IsValid() && b.RouterID.IsValid() && len(c.inv.Directors) > 1 {
			continue // a shared bgp.router_id is reported once, above
		}
		id := c.inv.DirectorRouterID(d)
		if !id.IsValid() {
			if d.Address.IsValid() && !d.Address.IsUnspecified() {
				c.errorf(key+".router_id", "required: the director's address %s is IPv6, and a BGP router id is an IPv4-formatted number", d.Address)
			}
			continue
		}
		if j, dup := ids[id]; dup {
			k := key + ".router_id"
			if !c.set(k) {
				k = key + ".address"
			}
			c.errorf(k, "router id %s is also %s's: BGP speakers need distinct router ids", id, c.ref(indexKey("director", j)))
		} else {
			ids[id] = i
		}
	}

	c.bgpTimers()

	if len(b.Peers) == 0 {
		c.errorf("bgp", "at least one [[bgp.peer]] is required with cluster.ha = \"bgp\": the routers the directors announce the VIPs to")
	}
	peers := map[netip.Addr]int{}
	for i, p := range b.Peers {
		key := indexKey("bgp.peer", i)
		switch {
		case !p.Address.IsValid():
			c.errorf(key+".address", "required: the router's address on the directors' network")
		case p.Address.IsUnspecified() || p.Address.IsMulticast() || p.Address.IsLoopback():
			c.errorf(key+".address", "%s is not a router's address", p.Address)
		case dirFamily.IsValid() && dirFamily.Is4() != p.Address.Is4():
			c.errorf(key+".address", "%s is %s but the directors are %s: a session runs between addresses of one family (the VIP's next hop is the director's address)", p.Address, family(p.Address), family(dirFamily))
		default:
			if j, dup := peers[p.Address]; dup {
				c.errorf(key+".address", "%s is also %s's address", p.Address, indexKey("bgp.peer", j))
			} else {
				peers[p.Address] = i
			}
			if j := c.directorIndex(func(d Director) bool { return d.Address == p.Address }); j >= 0 {
				c.errorf(key+".address", "%s is %s's address: a peer is a router, not a director (directors do not peer with each other)", p.Address, c.ref(indexKey("director", j)))
			}
			for j, v := range c.inv.VIPs {
				if v.Address.IsValid() && v.Address.Addr() == p.Address {
					c.errorf(key+".address", "%s is %s's address", p.Address, c.ref(indexKey("vip", j)))
				}
			}
		}
		switch {
		case p.ASN == 0 && !c.set(key+".asn"):
			c.errorf(key+".asn", "required: the router's AS number")
		case !validASN(p.ASN):
			c.errorf(key+".asn", "%d is not a usable AS number: %s", p.ASN, asnHint)
		}
		if p.PasswordFile != "" {
			c.absPath(key+".password_file", p.PasswordFile)
		}
	}

	for i, s := range c.inv.Services {
		key := indexKey("service", i)
		if s.Protocol == "tcp" {
			c.tcpAcrossDirectors(key, s)
		}
		if s.MinHealthy < 1 {
			c.errorf(key+".min_healthy", "%d: at least 1 healthy backend must be seen before a director attracts this VIP's traffic", s.MinHealthy)
		} else if n := len(s.Backends); n > 0 && s.MinHealthy > n {
			c.errorf(key+".min_healthy", "%d is more than the service's %d backends: no director would ever announce the VIP", s.MinHealthy, n)
		}
	}
}

func (c *checker) bgpTimers() {
	b := c.inv.BGP
	hold, ka := b.HoldTime.Duration, b.Keepalive.Duration
	if wd := b.WithdrawDelay.Duration; wd < 0 || wd > time.Minute {
		c.errorf("bgp.withdraw_delay", "%s is outside 0s-1m", wd)
	}
	switch {
	case hold < MinHoldTime || hold > 65535*time.Second:
		c.errorf("bgp.hold_time", "%s is outside 3s-65535s (RFC 4271)", hold)
	case hold%time.Second != 0:
		c.errorf("bgp.hold_time", "%s is not whole seconds (BGP counts seconds)", hold)
	case ka < time.Second || ka%time.Second != 0:
		c.errorf("bgp.keepalive", "%s: want whole seconds, at least 1s", ka)
	case ka >= hold:
		c.errorf("bgp.keepalive", "%s is not below hold_time %s: the session would expire between keepalives", ka, hold)
	}
	if !b.BFD {
		for _, k := range []string{"bgp.bfd_interval", "bgp.bfd_multiplier"} {
			if c.set(k) {
				c.warnf(k, "is unused with bfd = false")
			}
		}
		return
	}
	if iv := b.BFDInterval.Duration; iv < MinBFDInterval || iv > time.Minute {
		c.errorf("bgp.bfd_interval", "%s is outside %s-1m", iv, MinBFDInterval)
	} else if iv%time.Millisecond != 0 {
		c.errorf("bgp.bfd_interval", "%s is not whole milliseconds", iv)
	}
	if m := b.BFDMultiplier; m < 2 || m > 255 {
		c.errorf("bgp.bfd_multiplier", "%d is out of range 2-255", m)
	}
}
