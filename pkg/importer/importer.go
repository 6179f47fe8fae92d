package importer

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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

// refuse records what import cannot render without changing VRRP.
func (im *importer) refuse(n *keepalived.Node, why string) {
	im.refusals = append(im.refusals, fmt.Sprintf("%s: %s: %s", n.Pos, n.String(), why))
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
