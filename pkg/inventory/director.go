package inventory

import (
	"net/netip"
	"strings"
	"time"
)

// MinInterval is the shortest service.interval: below it a check cannot
// finish on a loaded host and the director would only measure itself.
const MinInterval = 50 * time.Millisecond

// UsesDirector reports whether hala director, not keepalived, programs IPVS.
func (inv *Inventory) UsesDirector() bool { return inv.Cluster.IPVS == IPVSDirector }

func (inv *Inventory) setDirectorDefaults() {
	set := inv.pos.has
	c := &inv.Cluster
	c.IPVS = strings.ToLower(c.IPVS)
	if c.IPVS == "" {
		c.IPVS = DefaultIPVS
	}
	if c.ReconcileInterval.Duration == 0 && !set("cluster.reconcile_interval") {
		c.ReconcileInterval.Duration = DefaultReconcileInterval
	}
	if c.MetricsAddress == "" {
		c.MetricsAddress = DefaultMetricsAddress
	}
	for i := range inv.Directors {
		if d := &inv.Directors[i]; d.MetricsAddress == "" {
			d.MetricsAddress = c.MetricsAddress
		}
	}
	for i := range inv.Services {
		s := &inv.Services[i]
		key := indexKey("service", i)
		if s.Interval.Duration == 0 && !set(key+".interval") {
			s.Interval.Duration = DefaultInterval
		}
		if s.Rise == 0 && !set(key+".rise") {
			s.Rise = DefaultRise
		}
		if s.Fall == 0 && !set(key+".fall") {
			s.Fall = DefaultFall
		}
		s.OnFailure = strings.ToLower(s.OnFailure)
		if s.OnFailure == "" {
			s.OnFailure = DefaultOnFailure
			if s.Protocol == "tcp" && s.UsesMH() {
				// Weight 0 keeps mh's table; see tcpAcrossDirectors.
				s.OnFailure = OnFailureQuiesce
			}
		}
		s.AllDown = strings.ToLower(s.AllDown)
		if s.AllDown == "" {
			s.AllDown = DefaultAllDown
		}
	}
}

// DirectorCheckTimeout is the bound on one of the director's checks of a
// backend asked every interval: cluster.check_timeout when the inventory
// sets it (validation keeps it below every interval), else the smaller of
// the default check timeout (2s) and 80% of the interval, so that a check
// always ends before the next one is due.
func (inv *Inventory) DirectorCheckTimeout(interval time.Duration) time.Duration {
	if inv.pos.has("cluster.check_timeout") {
		return inv.Cluster.CheckTimeout.Duration
	}
	return min(DefaultCheckTimeout, interval*4/5)
}

// MetricsAddress is where hala director on the director called node
// serves /metrics and /healthz, and where its keepalived asks:
// cluster.metrics_address unless the director sets its own ("" or an
// unknown node: the cluster's).
func (inv *Inventory) MetricsAddress(node string) string {
	for _, d := range inv.Directors {
		if d.Name == node && d.MetricsAddress != "" {
			return d.MetricsAddress
		}
	}
	if inv.Cluster.MetricsAddress == "" {
		return DefaultMetricsAddress
	}
	return inv.Cluster.MetricsAddress
}

// ServicesOfBackend lists the services that have the [[logstash]] host
// named name among their backends, in file order.
func (inv *Inventory) ServicesOfBackend(name string) []Service {
	var out []Service
	for _, s := range inv.Services {
		if contains(s.Backends, name) {
			out = append(out, s)
		}
	}
	return out
}

func (c *checker) directorKeys() {
	cl := c.inv.Cluster
	switch cl.IPVS {
	case IPVSKeepalived, IPVSDirector:
	default:
		c.errorf("cluster.ipvs", "%q: want %q (keepalived's virtual_server blocks and MISC_CHECKs) or %q (hala director; keepalived does VRRP only)", cl.IPVS, IPVSKeepalived, IPVSDirector)
	}
	if r := cl.ReconcileInterval.Duration; r < time.Second {
		c.errorf("cluster.reconcile_interval", "%v is below 1s: each repair reads the whole IPVS table", r)
	}
	director := cl.IPVS == IPVSDirector
	c.metricsAddresses(director)
	for i, s := range c.inv.Services {
		key := indexKey("service", i)
		if s.Interval.Duration < MinInterval {
			c.errorf(key+".interval", "%v is below %v", s.Interval.Duration, MinInterval)
		} else if director && c.set("cluster.check_timeout") && cl.CheckTimeout.Duration >= s.Interval.Duration {
			c.errorf(key+".interval", "%v is not above cluster.check_timeout (%v): a check must end before the next one is due (leave check_timeout unset and the director derives 80%% of the interval)", s.Interval.Duration, cl.CheckTimeout.Duration)
		}
		if s.Rise < 1 || s.Rise > 100 {
			c.errorf(key+".rise", "%d is out of range 1-100", s.Rise)
		}
		if s.Fall < 1 || s.Fall > 100 {
			c.errorf(key+".fall", "%d is out of range 1-100", s.Fall)
		}
		switch s.OnFailure {
		case OnFailureRemove:
		case OnFailureQuiesce:
			if s.Protocol == "udp" {
				c.errorf(key+".on_failure", "%q needs protocol tcp: a UDP destination at weight 0 keeps receiving its existing flows' datagrams, so a failed input would keep losing them", s.OnFailure)
			}
		default:
			c.errorf(key+".on_failure", "%q: want %q or %q", s.OnFailure, OnFailureRemove, OnFailureQuiesce)
		}
		switch s.AllDown {
		case AllDownKeep, AllDownRemove:
		default:
			c.errorf(key+".all_down", "%q: want %q (keep the last destinations when every backend fails) or %q (leave the service empty)", s.AllDown, AllDownKeep, AllDownRemove)
		}
		if !director {
			for _, k := range []string{"interval", "rise", "fall", "on_failure", "all_down"} {
				if c.set(key + "." + k) {
					c.warnf(key+"."+k, "read only by hala director; keepalived's MISC_CHECK uses delay_loop (set cluster.ipvs = \"director\")")
				}
			}
		}
	}
}

// metricsAddresses checks cluster.metrics_address and each director's: an
// address keepalived's tracking script can always reach on the director
// itself. A wrong one takes the VIPs off every director.
func (c *checker) metricsAddresses(director bool) {
	parse := func(key, s string) (netip.AddrPort, bool) {
		ap, err := netip.ParseAddrPort(s)
		switch {
		case err != nil:
			c.errorf(key, "%q is not IP:PORT (e.g. %q)", s, DefaultMetricsAddress)
		case ap.Port() == 0:
			c.errorf(key, "%q: port 0", s)
		case ap.Addr().IsUnspecified():
			c.errorf(key, "%q listens on every interface: the metrics say which backends are down and why; give loopback or one address of the director", s)
		case ap.Addr().Zone() != "":
			c.errorf(key, "%q: zones are not supported", s)
		default:
			for _, v := range c.inv.VIPs {
				if v.Address.IsValid() && v.Address.Addr() == ap.Addr() {
					c.errorf(key, "%q is on VIP %s, which moves between directors: keepalived's tracking script on the backup would find no director there and give up its VIPs too; use loopback or the director's own address", s, quote(v.Name))
					return ap, false
				}
			}
			return ap, true
		}
		return ap, false
	}
	set := c.set("cluster.metrics_address")
	if set && !director {
		c.warnf("cluster.metrics_address", "read only by hala director (set cluster.ipvs = \"director\")")
	}
	if ap, ok := parse("cluster.metrics_address", c.inv.Cluster.MetricsAddress); ok && !ap.Addr().IsLoopback() {
		c.errorf("cluster.metrics_address", "%q is not on loopback: every director would try to listen on it and all but one fail; set metrics_address under each [[director]] to its own address instead", c.inv.Cluster.MetricsAddress)
	}
	for i, d := range c.inv.Directors {
		key := indexKey("director", i) + ".metrics_address"
		if !c.set(key) {
			continue
		}
		if !director {
			c.warnf(key, "read only by hala director (set cluster.ipvs = \"director\")")
		}
		if ap, ok := parse(key, d.MetricsAddress); ok && !ap.Addr().IsLoopback() && ap.Addr() != d.Address {
			c.warnf(key, "%q is neither loopback nor this director's address %s: hala director must be able to listen on it on %s", d.MetricsAddress, d.Address, quote(d.Name))
		}
	}
}
