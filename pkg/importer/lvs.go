package importer

// LVS mapping: virtual_server and real_server blocks to [[service]] and
// its backends.

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/keepalived"
)

func (im *importer) virtualServer(vs *keepalived.Node) {
	if len(vs.Args) != 2 || vs.Arg(0) == "fwmark" || vs.Arg(0) == "group" {
		im.unmapped(vs, "hala renders virtual_server ADDRESS PORT only (no fwmark or group)")
		return
	}
	addr, err := netip.ParseAddr(vs.Arg(0))
	if err != nil {
		im.unmapped(vs, err.Error())
		return
	}
	port, err := strconv.Atoi(vs.Arg(1))
	if err != nil {
		im.unmapped(vs, "port is not a number")
		return
	}
	s := service{port: port, scheduler: "rr", forwarding: "nat", protocol: "tcp", weight: -1, backendPort: -1}
	for _, v := range im.vips {
		if v.addr.Addr() == addr {
			s.vip = v.name
		}
	}
	if s.vip == "" {
		s.vip = im.vipFor(vs, addr)
	}
	var reals []*keepalived.Node
	for _, n := range vs.Children {
		switch n.Name {
		case "delay_loop":
			d, err := secondsDuration(n.Arg(0))
			if err != nil {
				im.unmapped(n, err.Error())
			} else if d != "5s" {
				s.delayLoop = d
			}
		case "lb_algo":
			s.scheduler = strings.ToLower(n.Arg(0))
		case "lb_kind":
			switch k := strings.ToLower(n.Arg(0)); k {
			case "nat", "dr", "tun":
				s.forwarding = k
			default:
				im.unmapped(n, "hala forwards by nat, dr or tun")
			}
		case "protocol":
			switch p := strings.ToLower(n.Arg(0)); p {
			case "tcp", "udp":
				s.protocol = p
			default:
				im.unmapped(n, "hala balances udp and tcp only")
			}
		case "ops":
			s.onePacket = true
		case "mh-port":
			s.mhPort = true
		case "mh-fallback":
			s.mhFallback = true
		case "persistence_timeout":
			d, err := secondsDuration(n.Arg(0))
			if err != nil {
				im.unmapped(n, err.Error())
			} else {
				s.persistence = d
			}
		case "real_server":
			reals = append(reals, n)
		default:
			im.unmapped(n, "no inventory key for this virtual_server setting")
		}
	}
	for _, r := range reals {
		im.realServer(&s, vs, r)
	}
	if s.inputID == "" {
		im.unmapped(vs, "no real_server has a MISC_CHECK hala recognises, so the Logstash input id is unknown: input_id is a placeholder")
		im.placeholders++
	}
	if s.backendPort == port {
		s.backendPort = 0
	}
	s.name = s.protocol + "-" + strconv.Itoa(port)
	for _, o := range im.services {
		if o.name == s.name {
			s.name += "-" + s.vip
		}
	}
	im.services = append(im.services, s)
}

// vipFor adds a VIP for a virtual server whose address no vrrp_instance
// holds (an LVS-only keepalived.conf): the address as a host route, and a
// router_id placeholder that hala validate rejects, since the file says
// nothing about VRRP.
func (im *importer) vipFor(vs *keepalived.Node, addr netip.Addr) string {
	name := sanitize("vip-" + addr.String())
	im.vips = append(im.vips, vip{name: name, addr: netip.PrefixFrom(addr, addr.BitLen()), pos: vs.Pos, fromVirtualServer: true})
	im.placeholders++
	return name
}

func (im *importer) realServer(s *service, vs, r *keepalived.Node) {
	addr, err := netip.ParseAddr(r.Arg(0))
	if err != nil {
		im.unmapped(r, err.Error())
		return
	}
	port, err := strconv.Atoi(r.Arg(1))
	if err != nil {
		port = s.port
	}
	for _, b := range s.backends {
		if h := im.hostAt(addr); h != "" && b == h {
			im.unmapped(r, fmt.Sprintf("%s is already a backend of this service (hala lists a host once per service, on one backend_port): left out", addr))
			return
		}
	}
	if s.backendPort == -1 {
		s.backendPort = port
	} else if port != s.backendPort {
		im.unmapped(r, fmt.Sprintf("hala gives every backend of a service one port (%d)", s.backendPort))
	}
	weight := 1
	var check *Check
	dynamic := false
	if len(r.Children) == 0 || keepalived.First(r.Children, "weight") != nil && len(r.Children) == 1 {
		im.unmapped(r, "no health checker: keepalived kept it in the table unconditionally; hala checks it with hala check (its input must be running)")
	}
	for _, n := range r.Children {
		switch n.Name {
		case "weight":
			w, err := strconv.Atoi(n.Arg(0))
			if err != nil {
				im.unmapped(n, "not a number")
				continue
			}
			weight = w
		case "inhibit_on_failure":
			// hala renders it for TCP services with mh, whose failed
			// backends stay at weight 0 (on_failure = "quiesce").
			if s.scheduler != "mh" || s.protocol != "tcp" {
				im.unmapped(n, "hala keeps a failed backend at weight 0 only for tcp services with scheduler mh; elsewhere keepalived removes it")
			}
		case "MISC_CHECK":
			for _, m := range n.Children {
				switch m.Name {
				case "misc_path":
					c, err := ParseCheck(m.Arg(0))
					if err != nil {
						im.unmapped(m, "check not mapped: "+err.Error())
						s.checkers = append(s.checkers, fmt.Sprintf("MISC_CHECK %s at %s", m.Arg(0), m.Pos))
						continue
					}
					check = &c
				case "misc_timeout":
				case "misc_dynamic":
					dynamic = true
				default:
					im.unmapped(m, "no inventory key for this MISC_CHECK setting")
				}
			}
		default:
			im.unmapped(n, "hala checks real servers with MISC_CHECK (hala check) only")
			s.checkers = append(s.checkers, fmt.Sprintf("%s at %s", n.String(), n.Pos))
		}
	}
	if s.weight == -1 {
		s.weight = weight
	} else if weight != s.weight {
		im.unmapped(r, fmt.Sprintf("hala gives every backend of a service one weight (%d)", s.weight))
	}
	name := im.addHost(&im.logstash, "", addr)
	s.backends = append(s.backends, name)
	if check == nil {
		return
	}
	if check.Address != addr.String() {
		im.unmapped(r, fmt.Sprintf("its check asks %s, not the real server: hala checks the real server's own address", check.Address))
	}
	if s.inputID == "" {
		s.inputID = check.InputID
	} else if check.InputID != s.inputID {
		im.unmapped(r, fmt.Sprintf("hala checks one input id per service (%q)", s.inputID))
	}
	apiPort := im.opts.LogstashPort
	if check.Kind == "hala" {
		f := check.Flags
		if check.Program != inventory.DefaultHalaPath {
			im.halaPath = check.Program
		}
		if p, ok := f["port"]; ok {
			if n, err := strconv.Atoi(p); err == nil {
				apiPort = n
			}
		}
		if t, ok := f["timeout"]; ok && t != "2s" {
			im.checkTimeout = t
		}
		if v, ok := f["scheme"]; ok && v != "http" {
			im.scheme = v
		}
		if v, ok := f["ca"]; ok {
			im.ca = v
		}
		if v, ok := f["auth-file"]; ok {
			im.authFile = v
		}
		if v, ok := f["pipeline"]; ok {
			s.pipeline = v
		}
		if v, ok := f["max-idle"]; ok {
			s.maxIdle = v
		}
		_, s.requireRunning = f["require-running"]
		_, s.probe = f["probe"]
		_, s.dynamic = f["dynamic-weight"]
	}
	if dynamic != s.dynamic {
		im.unmapped(r, "misc_dynamic and hala check --dynamic-weight go together (weights = \"load\")")
	}
	for i := range im.logstash {
		if im.logstash[i].name == name {
			im.logstash[i].apiPort = apiPort
		}
	}
}
