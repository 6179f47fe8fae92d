package importer

import (
	"fmt"
	"math"
	"net/netip"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hala-lb/hala/pkg/keepalived"
)

// Options are what the keepalived.conf cannot say.
type Options struct {
	// LogstashPort is the Logstash API port of hosts whose check does not
	// name one (inputstatus.py asks 9600).
	LogstashPort int
	// Directors names directors by address (--director NAME=ADDR). Under
	// multicast VRRP they are the only source of director addresses.
	Directors []Director
}

// Director is a director given on the command line.
type Director struct {
	Name    string
	Address netip.Addr
}

// ParseDirector parses "NAME=ADDR".
func ParseDirector(s string) (Director, error) {
	name, addr, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return Director{}, fmt.Errorf("director %q: want NAME=ADDR", s)
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return Director{}, fmt.Errorf("director %q: %w", s, err)
	}
	if !nameRE.MatchString(name) {
		return Director{}, fmt.Errorf("director %q: %q is not a valid name (letters, digits, '.', '_', '-')", s, name)
	}
	return Director{Name: name, Address: a}, nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// Result is an imported inventory.
type Result struct {
	// TOML is the inventory, with a comment for each part not mapped.
	TOML []byte
	// Unmapped lists those parts, "file:line: what: why", for stderr.
	Unmapped []string
	// Placeholders counts values the operator must fill in.
	Placeholders int
}

type host struct {
	name    string
	addr    netip.Addr
	apiPort int
}

type vip struct {
	name     string
	addr     netip.Prefix
	routerID int
	master   string
	// backup: this file's director is BACKUP, so the master is another
	// one, which the file does not name.
	backup bool
}

type service struct {
	name, vip, protocol, inputID, scheduler, forwarding string
	port, backendPort, weight                           int
	onePacket, requireRunning, probe, dynamic           bool
	mhPort, mhFallback                                  bool
	delayLoop, persistence, maxIdle, pipeline           string
	backends                                            []string
}

type importer struct {
	opts Options
	src  string

	iface, authPass, advert, scriptUser          string
	emails                                       []string
	emailFrom, smtp                              string
	unicast, director                            bool
	halaPath, checkTimeout, scheme, ca, authFile string

	this      string // the director this file belongs to (router_id)
	directors []host
	logstash  []host
	vips      []vip
	services  []service

	notes        []string
	placeholders int
}

// Import maps cfg, read from src, to an inventory.
func Import(cfg *keepalived.Config, src string, opts Options) (*Result, error) {
	if opts.LogstashPort == 0 {
		opts.LogstashPort = 9600
	}
	im := &importer{opts: opts, src: src}
	for _, n := range cfg.Notes {
		im.notes = append(im.notes, n.String())
	}
	for _, n := range cfg.Nodes {
		if n.Name == "global_defs" {
			im.globalDefs(n)
		}
	}
	for _, n := range cfg.Nodes {
		switch n.Name {
		case "global_defs":
		case "vrrp_instance":
			im.instance(n)
		case "vrrp_script":
			im.trackScript(n)
		case "virtual_server":
		default:
			im.unmapped(n, "not a part of keepalived.conf that hala renders")
		}
	}
	im.addDirectors()
	for _, n := range cfg.Nodes {
		if n.Name == "virtual_server" {
			im.virtualServer(n)
		}
	}
	if len(im.vips) == 0 {
		return nil, fmt.Errorf("import %s: no vrrp_instance with a virtual_ipaddress: nothing to import", src)
	}
	return &Result{TOML: im.write(), Unmapped: im.notes, Placeholders: im.placeholders}, nil
}

func (im *importer) unmapped(n *keepalived.Node, why string) {
	im.notes = append(im.notes, fmt.Sprintf("%s: %s: %s", n.Pos, n.String(), why))
}

func (im *importer) globalDefs(g *keepalived.Node) {
	for _, n := range g.Children {
		switch n.Name {
		case "router_id":
			im.this = sanitize(n.Arg(0))
		case "notification_email":
			for _, e := range n.Children {
				im.emails = append(im.emails, e.Name)
			}
		case "notification_email_from":
			im.emailFrom = n.Arg(0)
		case "smtp_server":
			im.smtp = n.Arg(0)
			if p := n.Arg(1); p != "" && p != "25" {
				im.smtp = net(n.Arg(0), p)
			}
		case "script_user":
			if n.Arg(0) != "keepalived_script" {
				im.scriptUser = n.Arg(0)
			}
		case "enable_script_security":
			// hala always renders it.
		default:
			im.unmapped(n, "no inventory key (hala renders global_defs itself)")
		}
	}
}

// net joins host and port, bracketing IPv6 addresses.
func net(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

func (im *importer) instance(in *keepalived.Node) {
	v := vip{name: sanitize(in.Arg(0))}
	var peers []netip.Addr
	var src netip.Addr
	state := ""
	for _, n := range in.Children {
		switch n.Name {
		case "state":
			state = n.Arg(0)
		case "interface":
			if im.iface == "" {
				im.iface = n.Arg(0)
			} else if im.iface != n.Arg(0) {
				im.unmapped(n, fmt.Sprintf("hala puts every VIP of a director on one interface (%s)", im.iface))
			}
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
				im.unmapped(n, err.Error())
			} else {
				im.advert = d
			}
		case "authentication":
			for _, a := range n.Children {
				switch a.Name {
				case "auth_type":
					if a.Arg(0) != "PASS" {
						im.unmapped(a, "hala supports auth_type PASS only")
					}
				case "auth_pass":
					im.authPass = a.Arg(0)
				default:
					im.unmapped(a, "unknown authentication setting")
				}
			}
		case "unicast_src_ip":
			a, err := netip.ParseAddr(n.Arg(0))
			if err != nil {
				im.unmapped(n, err.Error())
				continue
			}
			src, im.unicast = a, true
		case "unicast_peer":
			for _, p := range n.Children {
				a, err := netip.ParseAddr(p.Name)
				if err != nil {
					im.unmapped(p, err.Error())
					continue
				}
				peers = append(peers, a)
			}
			im.unicast = true
		case "virtual_ipaddress":
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
				if dev := devOf(a); dev != "" && im.iface != "" && dev != im.iface {
					im.unmapped(a, fmt.Sprintf("hala puts the VIP on the VRRP interface (%s)", im.iface))
				}
			}
		case "track_script":
			if len(n.Children) != 1 || n.Children[0].Name != "hala_director" {
				im.unmapped(n, "hala tracks only its own director (vrrp_script hala_director)")
			}
		case "smtp_alert", "version":
			// hala renders smtp_alert with notification_email, and version 3 for sub-second adverts.
		default:
			im.unmapped(n, "no inventory key for this vrrp_instance setting")
		}
	}
	if !v.addr.IsValid() {
		im.unmapped(in, "no virtual_ipaddress: left out")
		return
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
	for _, p := range peers {
		im.addHost(&im.directors, "", p)
	}
	im.vips = append(im.vips, v)
}

func devOf(n *keepalived.Node) string {
	for i, a := range n.Args {
		if a == "dev" && i+1 < len(n.Args) {
			return n.Args[i+1]
		}
	}
	return ""
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
			if f[0] != "/usr/local/bin/hala" {
				im.halaPath = f[0]
			}
		case "interval", "timeout", "fall", "rise":
		default:
			im.unmapped(n, "hala renders its own vrrp_script settings")
		}
	}
	im.director = true
}

// addHost adds addr to hosts, named after a --director flag with that
// address, else name, else a name made from its position.
func (im *importer) addHost(hosts *[]host, name string, addr netip.Addr) string {
	for _, h := range *hosts {
		if h.addr == addr {
			return h.name
		}
	}
	for _, d := range im.opts.Directors {
		if d.Address == addr {
			name = d.Name
		}
	}
	for _, d := range im.directors {
		if d.addr == addr && hosts != &im.directors {
			name = d.name
		}
	}
	if name == "" || im.nameTaken(*hosts, name) {
		prefix := "director"
		if hosts == &im.logstash {
			prefix = "logstash"
		}
		for i := len(*hosts) + 1; ; i++ {
			name = prefix + strconv.Itoa(i)
			if !im.nameTaken(*hosts, name) {
				break
			}
		}
	}
	*hosts = append(*hosts, host{name: name, addr: addr})
	return name
}

func (im *importer) nameTaken(hosts []host, name string) bool {
	for _, h := range hosts {
		if h.name == name {
			return true
		}
	}
	return false
}

// addDirectors adds the --director hosts the file did not name, and a
// placeholder when there is none (multicast VRRP names no addresses).
func (im *importer) addDirectors() {
	for _, d := range im.opts.Directors {
		im.addHost(&im.directors, d.Name, d.Address)
	}
	if len(im.directors) == 0 {
		name := im.this
		if name == "" {
			name = "director1"
		}
		im.directors = append(im.directors, host{name: name})
		im.placeholders++
	}
	known := im.this != "" && im.nameTaken(im.directors, im.this)
	for i, v := range im.vips {
		switch {
		case !known:
			im.vips[i].master = ""
		case v.backup:
			// Keep this director BACKUP: the master is another director.
			for _, d := range im.directors {
				if d.name != im.this {
					im.vips[i].master = d.name
					break
				}
			}
		}
	}
}

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
		im.unmapped(vs, "its address is no vrrp_instance's virtual_ipaddress: left out")
		return
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
		im.unmapped(vs, "no real_server has a MISC_CHECK hala recognises, so the Logstash input id is unknown: left out")
		return
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
	if s.backendPort == -1 {
		s.backendPort = port
	} else if port != s.backendPort {
		im.unmapped(r, fmt.Sprintf("hala gives every backend of a service one port (%d)", s.backendPort))
	}
	weight := 1
	var check *Check
	dynamic := false
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
		if check.Program != "/usr/local/bin/hala" {
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

// secondsDuration turns keepalived seconds ("5", "0.5") into a hala
// duration string ("5s", "500ms").
func secondsDuration(s string) (string, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || f > 1e6 {
		return "", fmt.Errorf("%q is not a number of seconds", s)
	}
	return time.Duration(math.Round(f*1000) * float64(time.Millisecond)).String(), nil
}

// sanitize makes s a valid inventory name, replacing what is not allowed.
func sanitize(s string) string {
	out := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			return r
		}
		return '_'
	}, s)
	if out == "" || !nameRE.MatchString(out) {
		out = "x" + out
		if len(out) > 63 {
			out = out[:63]
		}
	}
	return out
}
