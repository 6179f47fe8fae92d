package render

import (
	"net/netip"
	"strconv"
)

type firewalldData struct {
	Cluster string
	Host    string
	Zone    string
	Groups  []ruleGroup
}

// ruleGroup is a set of rich rules with the reason they exist.
type ruleGroup struct {
	Why   string
	Rules []string
}

// ruleSet collects rich rules in order, without repeats.
type ruleSet struct {
	rules []string
	seen  map[string]bool
}

func (s *ruleSet) add(rule string) {
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if !s.seen[rule] {
		s.seen[rule] = true
		s.rules = append(s.rules, rule)
	}
}

// protocolRule accepts IP protocol proto from src.
//
// Equivalent to: rule family="ipv4" source address="SRC" protocol value="vrrp" accept
func protocolRule(src netip.Addr, proto string) string {
	return `rule family="` + family(src) + `" source address="` + hostPrefix(src) + `" protocol value="` + proto + `" accept`
}

// portRule accepts proto traffic from src to dst:port.
//
// Equivalent to: rule family="ipv4" source address="SRC" destination address="DST/32" port port="514" protocol="udp" accept
func portRule(src netip.Prefix, dst netip.Addr, port int, proto string) string {
	return `rule family="` + family(dst) + `" source address="` + src.Masked().String() + `" destination address="` + hostPrefix(dst) +
		`" port port="` + strconv.Itoa(port) + `" protocol="` + proto + `" accept`
}

// firewalld renders host h's firewall-cmd script: VRRP only between
// directors, the Logstash API only from directors, log ports only from
// firewall.log_sources.
func (r *renderer) firewalld(h host) ([]byte, error) {
	inv := r.inv
	data := firewalldData{Cluster: inv.Cluster.Name, Host: h.name, Zone: inv.Firewall.Zone}
	sources := inv.Firewall.LogSources
	noSources := "No firewall.log_sources: no log port is opened."

	if d := h.director; d != nil && inv.UsesBGP() {
		var bgp ruleSet
		for _, p := range inv.BGP.Peers {
			if p.Address.Is4() != d.Address.Is4() {
				continue
			}
			src := netip.PrefixFrom(p.Address, p.Address.BitLen())
			bgp.add(portRule(src, d.Address, 179, "tcp"))
			if inv.BGP.BFD {
				bgp.add(portRule(src, d.Address, 3784, "udp"))
				bgp.add(portRule(src, d.Address, 4784, "udp"))
			}
		}
		why := "BGP (TCP 179) from the [[bgp.peer]] routers only."
		if inv.BGP.BFD {
			why = "BGP (TCP 179) and BFD (UDP 3784 single-hop, 4784 multi-hop) from the [[bgp.peer]] routers only."
		}
		data.Groups = append(data.Groups, ruleGroup{Why: why, Rules: bgp.rules})
	}
	if d := h.director; d != nil {
		var vrrp ruleSet
		for _, o := range inv.Directors {
			if o.Name != d.Name && o.Address != d.Address && o.Address.Is4() == d.Address.Is4() {
				vrrp.add(protocolRule(o.Address, "vrrp"))
			}
		}
		if !inv.UsesBGP() {
			data.Groups = append(data.Groups, ruleGroup{
				Why:   "VRRP (IP protocol 112) from the other directors only; if it were blocked, every director would become MASTER.",
				Rules: vrrp.rules,
			})
		}
		var logs ruleSet
		for _, s := range inv.Services {
			v, ok := inv.VIP(s.VIP)
			if !ok {
				continue
			}
			for _, src := range sources {
				if src.Addr().Is4() == v.Address.Addr().Is4() {
					logs.add(portRule(src, v.Address.Addr(), s.Port, s.Protocol))
				}
			}
		}
		why := "Log ports on the VIPs (any director may hold them), only from firewall.log_sources."
		if inv.UsesBGP() {
			why = "Log ports on the VIPs (every director holds them on hala0), only from firewall.log_sources."
		}
		if len(sources) == 0 {
			why = noSources
		}
		data.Groups = append(data.Groups, ruleGroup{Why: why, Rules: logs.rules})
	}

	if l := h.logstash; l != nil {
		var api, tunnel, logs ruleSet
		for _, d := range inv.Directors {
			if d.Address == l.Address || d.Address.Is4() != l.Address.Is4() {
				continue
			}
			api.add(portRule(netip.PrefixFrom(d.Address, d.Address.BitLen()), l.Address, l.APIPort, "tcp"))
		}
		data.Groups = append(data.Groups, ruleGroup{
			Why:   "Logstash monitoring API (read by hala check) only from the directors.",
			Rules: api.rules,
		})
		for _, s := range inv.Services {
			if !backendOf(s, h.name) {
				continue
			}
			dst := l.Address
			if s.Forwarding == "dr" || s.Forwarding == "tun" {
				v, ok := inv.VIP(s.VIP)
				if !ok {
					continue
				}
				dst = v.Address.Addr()
			}
			if s.Forwarding == "tun" {
				for _, d := range inv.Directors {
					if d.Address != l.Address && d.Address.Is4() == dst.Is4() {
						tunnel.add(protocolRule(d.Address, "4"))
					}
				}
			}
			for _, src := range sources {
				if src.Addr().Is4() == dst.Is4() {
					logs.add(portRule(src, dst, s.BackendPort, s.Protocol))
				}
			}
		}
		if len(tunnel.rules) > 0 {
			data.Groups = append(data.Groups, ruleGroup{
				Why:   "IP-in-IP (IP protocol 4) from the directors, which tunnel TUN services' packets to this host.",
				Rules: tunnel.rules,
			})
		}
		why := "Log ports of the services this host is a backend of, only from firewall.log_sources."
		if len(sources) == 0 {
			why = noSources
		}
		data.Groups = append(data.Groups, ruleGroup{Why: why, Rules: logs.rules})
	}
	size := 1024
	for _, g := range data.Groups {
		size += len(g.Why) + 8
		for _, r := range g.Rules {
			size += len(r) + 8
		}
	}
	return execute("firewalld.sh.tmpl", data, size)
}
