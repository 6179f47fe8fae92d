package inventory

// Rules for the [firewall] table.

import (
	"net/netip"
)

func (c *checker) firewall() {
	fw := c.inv.Firewall
	if !zoneRE.MatchString(fw.Zone) {
		c.errorf("firewall.zone", "%q is not a valid firewalld zone name", fw.Zone)
	}
	if len(fw.LogSources) == 0 {
		c.warnf("firewall.log_sources", "no log_sources: the rendered firewall rules admit no log senders")
	}
	// The cluster's family is the directors' (VIPs and backends must share it).
	var fam netip.Addr
	if len(c.inv.Directors) > 0 {
		fam = c.inv.Directors[0].Address
	}
	for i, p := range fw.LogSources {
		k := indexKey("firewall.log_sources", i)
		switch {
		case p.Masked() != p:
			one := netip.PrefixFrom(p.Addr(), p.Addr().BitLen())
			c.errorf(k, "%s has host bits set: write %s for one host or %s for the subnet", p, one, p.Masked())
		case fam.IsValid() && p.Addr().Is4() != fam.Is4():
			// firewalld.sh opens log ports per VIP and backend of the
			// entry's family: this entry would open nothing.
			c.errorf(k, "%s is %s but the cluster (directors, VIPs, backends) is %s: no log port would be opened for it", p, family(p.Addr()), family(fam))
		case p.Bits() == 0:
			c.warnf(k, "%s admits log senders from every address to the log ports; list the senders' networks instead", p)
		case isLinkLocal(p):
			c.errorf(k, "%s is link-local: senders reach the VIPs and backends from routable addresses, so this entry would admit nobody", p)
		}
	}
}

var (
	linkLocal4 = netip.MustParsePrefix("169.254.0.0/16")
	linkLocal6 = netip.MustParsePrefix("fe80::/10")
)

// isLinkLocal reports whether every address of p is link-local.
func isLinkLocal(p netip.Prefix) bool {
	ll := linkLocal4
	if p.Addr().Is6() {
		ll = linkLocal6
	}
	return p.Bits() >= ll.Bits() && ll.Contains(p.Addr())
}
