package importer

// VRRP mapping: vrrp_instance and vrrp_script blocks to [[vip]] and the
// cluster-wide VRRP settings.

import (
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/keepalived"
)

func (im *importer) instance(in *keepalived.Node) {
	v := vip{name: sanitize(in.Arg(0)), pos: in.Pos}
	var peers []netip.Addr
	var src netip.Addr
	var addrs *keepalived.Node
	state, version := "", ""
	for _, n := range in.Children {
		switch n.Name {
		case "state":
			state = n.Arg(0)
		case "interface":
			v.iface = n.Arg(0)
		case "virtual_router_id":
			id, err := strconv.Atoi(n.Arg(0))
			if err != nil {
				im.unmapped(n, "not a number")
				continue
			}
			v.routerID = id
		case "priority":
			// hala derives priorities: 150 on a VIP's master, 100, 99, … on the backups.
			if p, err := strconv.Atoi(n.Arg(0)); err != nil || (state == "MASTER") != (p == 150) || p > 150 {
				im.unmapped(n, "hala derives priorities (150 on the master, 100, 99, … on the backups)")
			}
		case "advert_int":
			d, err := secondsDuration(n.Arg(0))
			if err != nil {
				im.refuse(n, "advert_int "+err.Error())
			} else {
				v.advert = d
			}
		case "authentication":
			im.authentication(&v, n)
		case "unicast_src_ip":
			a, err := netip.ParseAddr(n.Arg(0))
			if err != nil {
				im.refuse(n, err.Error())
				continue
			}
			src, v.unicast = a, true
		case "unicast_peer":
			v.unicast = true
			// Peers are one a line in the block, or inline after the keyword.
			words := append([]string{}, n.Args...)
			for _, p := range n.Children {
				words = append(words, p.Name)
			}
			for _, w := range words {
				a, err := netip.ParseAddr(w)
				if err != nil {
					im.refuse(n, fmt.Sprintf("unicast_peer %q: %v", w, err))
					continue
				}
				peers = append(peers, a)
			}
		case "virtual_ipaddress":
			addrs = n
		case "track_script":
			if len(n.Children) != 1 || n.Children[0].Name != "hala_director" {
				im.unmapped(n, "hala tracks only its own director (vrrp_script hala_director)")
			}
		case "version":
			version = n.Arg(0)
		case "smtp_alert":
			// hala renders smtp_alert with notification_email.
			v.smtpAlert = boolArg(n)
		default:
			im.unmapped(n, "no inventory key for this vrrp_instance setting")
		}
	}
	if addrs != nil {
		im.virtualAddresses(&v, addrs)
	}
	if !v.addr.IsValid() {
		im.unmapped(in, "no virtual_ipaddress: left out")
		return
	}
	im.vrrpVersion(in, &v, version)
	if len(im.emails) > 0 && !v.smtpAlert && !im.smtpAlert {
		im.unmapped(in, "keepalived mails nothing on this instance's transitions (no smtp_alert); hala renders smtp_alert on every instance when notification_email is set")
	}
	switch {
	case state == "MASTER" && im.this != "":
		v.master = im.this
	case state == "BACKUP":
		v.backup = true
	}
	if src.IsValid() {
		im.addHost(&im.directors, im.this, src)
	}
	sorted := make([]string, 0, len(peers))
	for _, p := range peers {
		im.addHost(&im.directors, "", p)
		sorted = append(sorted, p.String())
	}
	sort.Strings(sorted)
	v.peers = strings.Join(sorted, " ")
	im.vips = append(im.vips, v)
}

// authentication reads an instance's authentication block. hala renders
// PASS or nothing: AH would change what the instance's peers accept.
func (im *importer) authentication(v *vip, n *keepalived.Node) {
	kind, pass := "", ""
	for _, a := range n.Children {
		switch a.Name {
		case "auth_type":
			kind = a.Arg(0)
			if kind != "PASS" {
				im.refuse(a, "hala renders auth_type PASS or no authentication: peers would reject the other's adverts")
			}
		case "auth_pass":
			pass = a.Arg(0)
		default:
			im.unmapped(a, "unknown authentication setting")
		}
	}
	if kind == "PASS" || kind == "" {
		v.auth = pass
	}
}

// vrrpVersion maps an instance's VRRP version (its own or global_defs'
// vrrp_version). hala derives 3 below whole-second adverts and for IPv6,
// else 2; an instance on 3 where hala derives 2 keeps it as
// vip.vrrp_version. Version 2 where hala needs 3 is refused.
func (im *importer) vrrpVersion(in *keepalived.Node, v *vip, version string) {
	derived := "2"
	if d, err := time.ParseDuration(v.advert); err == nil && d%time.Second != 0 || v.addr.Addr().Is6() {
		derived = "3"
	}
	if version == "" {
		version = im.vrrpVersionGlobal
	}
	switch {
	case version == "" || version == derived:
	case version == "3":
		v.version3 = true
	default:
		im.refuse(in, fmt.Sprintf("VRRP version %s: hala renders version %s for this instance (3 below whole-second adverts and for IPv6)", version, derived))
	}
	if (derived == "3" || v.version3) && v.auth != "" {
		// keepalived sends no authentication with version 3 either.
		im.unmapped(in, "VRRP version 3 has no authentication: keepalived ignores its auth_pass, and so does the inventory")
		v.auth = ""
	}
}

// virtualAddresses maps an instance's virtual_ipaddress block: the first
// address becomes the VIP.
func (im *importer) virtualAddresses(v *vip, n *keepalived.Node) {
	for i, a := range n.Children {
		if i > 0 {
			im.unmapped(a, "hala has one address per vrrp_instance: add a [[vip]] with its own router_id")
			continue
		}
		p, err := parsePrefix(a.Name)
		if err != nil {
			im.unmapped(a, err.Error())
			continue
		}
		v.addr = p
		// hala renders "ADDR dev IFACE": a dev that is the instance's
		// interface is what it renders; anything else would be dropped.
		var dropped []string
		for j := 0; j < len(a.Args); j++ {
			if a.Args[j] == "dev" && j+1 < len(a.Args) && a.Args[j+1] == v.iface {
				j++
				continue
			}
			dropped = append(dropped, a.Args[j])
		}
		if len(dropped) > 0 {
			im.unmapped(a, fmt.Sprintf("hala renders the VIP as %s dev %s: %q is dropped", p, v.iface, strings.Join(dropped, " ")))
		}
	}
}

// vrrp settles the VRRP settings the VIPs share: the first instance's
// interface, advert interval and password become the cluster's, and each
// instance that differs keeps its own on its [[vip]] (write does that).
// What hala keeps cluster-wide (unicast or multicast and the unicast
// peers) must agree across instances, or the import is refused naming
// each instance.
func (im *importer) vrrp() {
	if len(im.vips) == 0 {
		return
	}
	first := im.vips[0]
	im.iface = first.iface
	im.unicast = first.unicast
	for _, v := range im.vips[1:] {
		if v.unicast != first.unicast {
			im.refusals = append(im.refusals, fmt.Sprintf("%s: vrrp_instance %s is %s, but %s (%s) is %s: hala renders one for every VIP", v.pos, v.name, castOf(v.unicast), first.name, first.pos, castOf(first.unicast)))
		} else if v.peers != first.peers {
			im.refusals = append(im.refusals, fmt.Sprintf("%s: vrrp_instance %s has unicast peers %q, but %s (%s) has %q: hala sends every VIP's adverts to every other director", v.pos, v.name, v.peers, first.name, first.pos, first.peers))
		}
	}
}

func castOf(unicast bool) string {
	if unicast {
		return "unicast VRRP"
	}
	return "multicast VRRP"
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// trackScript maps hala's own vrrp_script (cluster.ipvs = "director"):
// "<hala_path> director health ...".
func (im *importer) trackScript(t *keepalived.Node) {
	if t.Arg(0) != "hala_director" {
		im.unmapped(t, "hala tracks only its own director (vrrp_script hala_director)")
		return
	}
	for _, n := range t.Children {
		switch n.Name {
		case "script":
			f := strings.Fields(n.Arg(0))
			if len(f) < 3 || path.Base(f[0]) != "hala" || f[1] != "director" || f[2] != "health" {
				im.unmapped(n, "not hala director health")
				return
			}
			if f[0] != inventory.DefaultHalaPath {
				im.halaPath = f[0]
			}
			for i, a := range f[:len(f)-1] {
				if a != "--metrics-address" || f[i+1] == inventory.DefaultMetricsAddress {
					continue
				}
				if ap, err := netip.ParseAddrPort(f[i+1]); err == nil && ap.Addr().IsLoopback() {
					im.metricsAddress = f[i+1]
				} else {
					im.unmapped(n, fmt.Sprintf("--metrics-address %s: set metrics_address = %q under this host's [[director]]", f[i+1], f[i+1]))
				}
			}
		case "interval", "timeout", "fall", "rise":
		default:
			im.unmapped(n, "hala renders its own vrrp_script settings")
		}
	}
	im.director = true
}
