package importer

import (
	"fmt"
	"math"
	"net/netip"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/keepalived"
)

// MaxOutput bounds the inventory import writes: the largest inventory
// hala reads (inventory.MaxFileSize; a test keeps them equal).
const MaxOutput = 4 << 20

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
	if !nameRE().MatchString(name) {
		return Director{}, fmt.Errorf("director %q: %q is not a valid name (letters, digits, '.', '_', '-')", s, name)
	}
	return Director{Name: name, Address: a}, nil
}

// nameRE is compiled on first use, not at init: hala check links this
// package and must not pay for it (see inventory's lazyRegexp).
var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`) })

// Result is an imported inventory.
type Result struct {
	// TOML is the inventory, with a comment for each part not mapped.
	TOML []byte
	// Unmapped lists those parts, "file:line: what: why", for stderr.
	Unmapped []string
	// Placeholders counts values the operator must fill in.
	Placeholders int
	// DirectorPlaceholders is true when a director's address is a
	// placeholder (multicast VRRP names none).
	DirectorPlaceholders bool
	// Secret is true when TOML holds a vrrp_auth_pass: write it where
	// only its owner can read it.
	Secret bool
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

	// The instance's own VRRP settings, carried per VIP when instances
	// differ: advert_int ("" = keepalived's 1s), auth_pass ("" = none).
	pos          keepalived.Pos
	advert, auth string
	iface        string
	// unicast: the instance has unicast_src_ip or unicast_peer; peers is
	// its unicast_peer list, sorted.
	unicast bool
	peers   string
	// smtpAlert: keepalived mails this instance's transitions.
	smtpAlert bool
	// version3: the instance speaks VRRP version 3 where hala would
	// derive 2 (vip.vrrp_version = 3).
	version3 bool
	// fromVirtualServer: no vrrp_instance holds this address (an
	// LVS-only file); router_id is a placeholder.
	fromVirtualServer bool
}

type service struct {
	name, vip, protocol, inputID, scheduler, forwarding string
	port, backendPort, weight                           int
	onePacket, requireRunning, probe, dynamic           bool
	mhPort, mhFallback                                  bool
	delayLoop, persistence, maxIdle, pipeline           string
	backends                                            []string
	// checkers are the keepalived checkers import cannot map ("TCP_CHECK
	// at k.conf:12"); with no hala check or inputstatus.py among the real
	// servers, input_id is a placeholder.
	checkers []string
}

type importer struct {
	opts Options
	src  string

	iface, scriptUser, vrrpVersionGlobal         string
	emails                                       []string
	emailFrom, smtp                              string
	unicast, director, smtpAlert                 bool
	halaPath, checkTimeout, scheme, ca, authFile string
	// metricsAddress is the tracking script's --metrics-address when it
	// is not the default: hala director serves where the script asks.
	metricsAddress string

	this      string // the director this file belongs to (router_id)
	directors []host
	logstash  []host
	vips      []vip
	services  []service

	notes        []string
	placeholders int
	// noteBytes counts the notes' size; tooLarge: past MaxOutput.
	noteBytes int
	tooLarge  bool
	// directorPlaceholder: a [[director]] address is a placeholder.
	directorPlaceholder bool
	// refusals are what hala cannot render without changing how VRRP
	// speaks (a split brain during a one-at-a-time migration): import
	// refuses the file and names each.
	refusals []string
}

// Import maps cfg, read from src, to an inventory.
func Import(cfg *keepalived.Config, src string, opts Options) (*Result, error) {
	if opts.LogstashPort == 0 {
		opts.LogstashPort = 9600
	}
	im := &importer{opts: opts, src: src}
	for _, n := range cfg.Notes {
		im.note(n.String())
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
	im.vrrp()
	im.addDirectors()
	for _, n := range cfg.Nodes {
		if n.Name == "virtual_server" {
			im.virtualServer(n)
		}
	}
	if im.tooLarge {
		return &Result{Unmapped: im.notes}, im.errTooLarge(src)
	}
	if len(im.refusals) > 0 {
		for i, r := range im.refusals {
			im.refusals[i] = escape(r)
		}
		return &Result{Unmapped: im.notes}, &RefusedError{Source: escape(src), Reasons: im.refusals}
	}
	if len(im.vips) == 0 {
		return &Result{Unmapped: im.notes}, fmt.Errorf("import %s: no vrrp_instance with a virtual_ipaddress and no virtual_server: nothing to import", src)
	}
	out := im.write()
	if len(out) > MaxOutput {
		return &Result{Unmapped: im.notes}, im.errTooLarge(src)
	}
	secret := false
	for _, v := range im.vips {
		secret = secret || v.auth != ""
	}
	return &Result{TOML: out, Unmapped: im.notes, Placeholders: im.placeholders, DirectorPlaceholders: im.directorPlaceholder, Secret: secret}, nil
}

func (im *importer) errTooLarge(src string) error {
	return fmt.Errorf("import %s: the inventory would be larger than %d bytes, the most hala reads (%d parts not mapped at least): is it a keepalived.conf?", escape(src), MaxOutput, len(im.notes))
}

// RefusedError is an import refused because hala would render VRRP
// differently from the keepalived.conf: Reasons names each instance and
// setting, "file:line: what: why".
type RefusedError struct {
	Source  string
	Reasons []string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("import %s: hala would render VRRP differently from it (peers whose adverts disagree each become MASTER):\n  %s", e.Source, strings.Join(e.Reasons, "\n  "))
}

func (im *importer) unmapped(n *keepalived.Node, why string) {
	im.note(fmt.Sprintf("%s: %s: %s", n.Pos, n.String(), why))
}

// note records a part not mapped. The notes are bounded with the output
// they end up in: past MaxOutput bytes the import is refused instead.
func (im *importer) note(s string) {
	im.noteBytes += len(s) + 5 // "#   " and a newline in the inventory
	if im.noteBytes > MaxOutput {
		im.tooLarge = true
		return
	}
	im.notes = append(im.notes, escape(s))
}

// escape writes control characters and bytes that are not UTF-8 as \xNN,
// so that a note quoting the input cannot move a terminal's cursor or
// hide a line (notes go to stderr and into TOML comments).
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1, r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0, r == '\u2028', r == '\u2029':
			for _, c := range []byte(s[i : i+size]) {
				fmt.Fprintf(&b, "\\x%02x", c)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
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
		case "smtp_alert", "smtp_alert_vrrp":
			im.smtpAlert = boolArg(n)
		case "vrrp_version":
			im.vrrpVersionGlobal = n.Arg(0)
		case "vrrp_mcast_group4", "vrrp_mcast_group6":
			// Peers on another group never hear each other's adverts.
			if def := map[string]string{"vrrp_mcast_group4": "224.0.0.18", "vrrp_mcast_group6": "ff02::12"}[n.Name]; n.Arg(0) != def {
				im.refuse(n, "hala renders VRRP on keepalived's default multicast group ("+def+")")
			}
		default:
			im.unmapped(n, "no inventory key (hala renders global_defs itself)")
		}
	}
}

// boolArg reads a keepalived flag: on alone, or with true/on/yes.
func boolArg(n *keepalived.Node) bool {
	switch strings.ToLower(n.Arg(0)) {
	case "", "true", "on", "yes":
		return true
	}
	return false
}

// net joins host and port, bracketing IPv6 addresses.
func net(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

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

// refuse records what import cannot render without changing VRRP.
func (im *importer) refuse(n *keepalived.Node, why string) {
	im.refusals = append(im.refusals, fmt.Sprintf("%s: %s: %s", n.Pos, n.String(), why))
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

// hostAt names the [[logstash]] host with address a, or "".
func (im *importer) hostAt(a netip.Addr) string {
	for _, h := range im.logstash {
		if h.addr == a {
			return h.name
		}
	}
	return ""
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
		im.directorPlaceholder = true
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
	if out == "" || !nameRE().MatchString(out) {
		out = "x" + out
		if len(out) > 63 {
			out = out[:63]
		}
	}
	return out
}
