package render

import (
	"strings"

	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/inventory"
)

type sysctlData struct {
	Cluster  string
	Host     string
	IPVS     bool
	Settings []setting
}

// setting is one sysctl key with the reason it is set.
type setting struct {
	Why   string
	Key   string
	Value string
}

type setupData struct {
	Cluster    string
	Host       string
	Director   bool
	ScriptUser string
	HalaPath   string
	// StateDir is hala check's state directory, when a check keeps state.
	StateDir string
	// DrainDir is where hala drain keeps its records (directors).
	DrainDir  string
	Tunnel    bool
	LocalVIPs []localVIP
	// Unit is the file name of the systemd unit that restores LocalVIPs at boot.
	Unit string
	// DirectorUnit is hala director's unit file ("" unless cluster.ipvs =
	// "director"), reading the inventory at Inventory.
	DirectorUnit string
	Inventory    string
	// Keepalived: the director runs keepalived (not with cluster.ha = "bgp").
	Keepalived bool
	// PasswordFiles are the [[bgp.peer]] password files hala director reads.
	PasswordFiles []string
	// DirectorDefaults is the rendered /etc/default/hala-director, and
	// DirectorArgs the HALA_DIRECTOR_ARGS it sets.
	DirectorDefaults, DirectorArgs string
}

// localVIP is a VIP a DR or TUN real server must hold on a local device so
// it accepts the packets a director forwards unchanged.
type localVIP struct {
	Why     string
	Address string
	Dev     string
}

// localVIPs lists the VIPs that host h, as a DR or TUN backend, holds
// itself, in service order and without repeats.
func (r *renderer) localVIPs(h host) []localVIP {
	if h.logstash == nil {
		return nil
	}
	var out []localVIP
	seen := map[localVIP]bool{}
	for _, s := range r.inv.Services {
		if s.Forwarding != "dr" && s.Forwarding != "tun" || !backendOf(s, h.name) {
			continue
		}
		v, ok := r.inv.VIP(s.VIP)
		if !ok {
			continue
		}
		lv := localVIP{
			Why:     "Direct routing: the director forwards packets for VIP " + comment(v.Name) + " unchanged; holding it on lo lets this host accept them.",
			Address: hostPrefix(v.Address.Addr()),
			Dev:     "lo",
		}
		if s.Forwarding == "tun" {
			lv.Why = "IP-in-IP: the director tunnels packets for VIP " + comment(v.Name) + " to this host; holding it on tunl0 lets this host accept them."
			lv.Dev = "tunl0"
		}
		if !seen[lv] {
			seen[lv] = true
			out = append(out, lv)
		}
	}
	return out
}

// backendOf reports whether the Logstash host called name is one of s's backends.
func backendOf(s inventory.Service, name string) bool {
	for _, b := range s.Backends {
		if b == name {
			return true
		}
	}
	return false
}

func (r *renderer) sysctl(h host, local []localVIP) ([]byte, error) {
	data := sysctlData{Cluster: r.inv.Cluster.Name, Host: h.name, IPVS: h.director != nil}
	add := func(why, key, value string) {
		data.Settings = append(data.Settings, setting{Why: why, Key: key, Value: value})
	}
	if h.director != nil {
		v6, nat := false, false
		for _, v := range r.inv.VIPs {
			v6 = v6 || v.Address.Addr().Is6()
		}
		for _, s := range r.inv.Services {
			nat = nat || s.Forwarding == "nat"
		}
		why := "IPVS NAT routes client packets to the real servers and their replies back: this host must forward."
		if !nat {
			why = "DR/TUN only: IPVS hands packets to the real servers itself and needs no forwarding; on so a NAT service can be added without a sysctl change."
		}
		add(why, "net.ipv4.ip_forward", "1")
		if r.inv.UsesBGP() {
			add("BGP: every director holds every VIP on hala0, and Linux answers ARP for any local address on any interface: answer only for addresses of the receiving interface, so no director takes the VIP's traffic on the shared segment past the routers' ECMP.", "net.ipv4.conf.all.arp_ignore", "1")
			add("BGP: never use a VIP on hala0 as the source of ARP requests, so neighbours do not learn the VIP at this director's MAC.", "net.ipv4.conf.all.arp_announce", "2")
		} else {
			add("Lets Logstash or other services bind a VIP this director does not hold right now (it is BACKUP).", "net.ipv4.ip_nonlocal_bind", "1")
		}
		if v6 {
			add("IPv6 VIPs: forward IPv6 packets as IPVS needs.", "net.ipv6.conf.all.forwarding", "1")
			// The interface's key: "all" does not override accept_ra.
			add("A forwarding host ignores router advertisements unless accept_ra is 2: keep a default route learnt by SLAAC.", ifaceKey("net.ipv6.conf", r.interfaceOf(*h.director), "accept_ra"), "2")
			if !r.inv.UsesBGP() {
				add("IPv6 VIPs: allow binding a VIP this director does not hold right now.", "net.ipv6.ip_nonlocal_bind", "1")
			}
		}
		add("When a real server is removed, drop its connection entries at once so UDP flows move to a healthy one.", "net.ipv4.vs.expire_nodest_conn", "1")
		add("Expire the persistence templates of a failed real server too, so persistent clients move as well.", "net.ipv4.vs.expire_quiescent_template", "1")
		if nat {
			add("IPVS NAT with firewalld: keep netfilter connection tracking for IPVS traffic so the firewall accepts it.", "net.ipv4.vs.conntrack", "1")
		}
		if r.tcpAcrossDirectors() {
			add("TCP with mh: accept a mid-flow packet of a connection this director has not seen (moved here when another director died or joined, or at a failover); mh sends it to the backend that holds the connection.", "net.ipv4.vs.sloppy_tcp", "1")
			// "-": the key exists only once nf_conntrack is loaded (firewalld loads it).
			add("The same for netfilter's connection tracking, when loaded: take up a connection from a mid-flow packet instead of marking it invalid for the firewall to drop (the kernel's default, pinned).", "-net.netfilter.nf_conntrack_tcp_loose", "1")
		}
	}
	if len(local) > 0 {
		tunnel := false
		for _, lv := range local {
			tunnel = tunnel || lv.Dev == "tunl0"
		}
		add("DR/TUN real server: answer ARP only for addresses of the receiving interface, never for the VIP held locally.", "net.ipv4.conf.all.arp_ignore", "1")
		add("DR/TUN real server: never use the locally held VIP as the source of ARP requests.", "net.ipv4.conf.all.arp_announce", "2")
		if tunnel {
			add("TUN real server: packets for the VIP arrive on tunl0, which reverse-path filtering would drop.", "net.ipv4.conf.all.rp_filter", "0")
			add("TUN real server: the same for tunl0 itself (the kernel applies the larger of all and the interface).", "net.ipv4.conf.tunl0.rp_filter", "0")
		}
	}
	return execute("sysctl.conf.tmpl", data, 2048)
}

// tcpAcrossDirectors reports whether a TCP connection may move between
// directors mid-flow and must keep its backend: a TCP service under
// cluster.ha = "bgp" (the router's ECMP moves flows when a director dies
// or joins), or one scheduled by mh under VRRP (a failover moves them all).
func (r *renderer) tcpAcrossDirectors() bool {
	for _, s := range r.inv.Services {
		if s.Protocol == "tcp" && (r.inv.UsesBGP() || s.UsesMH()) {
			return true
		}
	}
	return false
}

func (r *renderer) setup(h host, local []localVIP) ([]byte, error) {
	data := setupData{
		Cluster:    r.inv.Cluster.Name,
		Host:       h.name,
		Director:   h.director != nil,
		ScriptUser: r.inv.Cluster.ScriptUser,
		HalaPath:   r.inv.Cluster.HalaPath,
		LocalVIPs:  local,
		Unit:       LocalVIPsUnitPath,
	}
	if h.director != nil {
		data.DrainDir = drain.DefaultDir
		data.Keepalived = !r.inv.UsesBGP()
		if r.inv.UsesBGP() {
			seen := map[string]bool{}
			for _, p := range r.inv.BGP.Peers {
				if p.PasswordFile != "" && !seen[p.PasswordFile] {
					seen[p.PasswordFile] = true
					data.PasswordFiles = append(data.PasswordFiles, p.PasswordFile)
				}
			}
		}
	}
	if h.director != nil && needsState(r.inv) {
		data.StateDir = stateDir
	}
	if h.director != nil && r.inv.UsesDirector() {
		data.DirectorUnit, data.Inventory = DirectorUnitPath, DirectorInventory
		data.DirectorDefaults, data.DirectorArgs = DirectorDefaultsPath, "--node "+h.name
	}
	for _, lv := range local {
		data.Tunnel = data.Tunnel || lv.Dev == "tunl0"
	}
	return execute("setup.sh.tmpl", data, 4096)
}

// localVIPsUnit renders the systemd oneshot unit that puts a DR/TUN real
// server's VIPs back on lo/tunl0 at boot.
func (r *renderer) localVIPsUnit(h host, local []localVIP) ([]byte, error) {
	data := setupData{Cluster: r.inv.Cluster.Name, Host: h.name, LocalVIPs: local}
	for _, lv := range local {
		data.Tunnel = data.Tunnel || lv.Dev == "tunl0"
	}
	return execute("hala-local-vips.service.tmpl", data, 1024)
}

// ifaceKey is the sysctl key prefix.iface.name. An interface name with a
// dot (a VLAN such as eth0.10) needs the slash form, which sysctl(8),
// systemd-sysctl and hala sysctl apply all read.
func ifaceKey(prefix, iface, name string) string {
	if strings.Contains(iface, ".") {
		return strings.ReplaceAll(prefix, ".", "/") + "/" + iface + "/" + name
	}
	return prefix + "." + iface + "." + name
}
