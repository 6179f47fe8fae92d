package inventory

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Schedulers are the IPVS schedulers keepalived's lvs_sched accepts.
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"}

// ForwardingMethods are the IPVS forwarding methods (keepalived lvs_method).
var ForwardingMethods = []string{"nat", "dr", "tun"}

var (
	// Names become output directory names and keepalived section names.
	nameRE = &lazyRegexp{expr: `^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`}
	// A user name as Debian's adduser accepts it by default.
	userRE = &lazyRegexp{expr: `^[a-z_][a-z0-9_-]{0,31}$`}
	// DNS host names (smtp_server).
	hostRE = &lazyRegexp{expr: `^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$`}
	// firewalld zone names.
	zoneRE = &lazyRegexp{expr: `^[A-Za-z0-9_-]{1,17}$`}
)

// lazyRegexp compiles on first use, not at init: every hala process (hala
// check runs every few seconds per real server) would otherwise pay for
// it. No hala package compiles a regexp at init (pkg/importer's nameRE is
// lazy too).
type lazyRegexp struct {
	once sync.Once
	expr string
	re   *regexp.Regexp
}

func (l *lazyRegexp) compiled() *regexp.Regexp {
	l.once.Do(func() { l.re = regexp.MustCompile(l.expr) })
	return l.re
}

func (l *lazyRegexp) MatchString(s string) bool { return l.compiled().MatchString(s) }

func (l *lazyRegexp) ReplaceAllString(s, repl string) string {
	return l.compiled().ReplaceAllString(s, repl)
}

const (
	minAdvert = 10 * time.Millisecond
	maxAdvert = 255 * time.Second
)

// Validate checks a complete inventory (after SetDefaults) and returns
// every problem joined with errors.Join, each a *Problem; nil when it is
// valid. It replaces inv.Warnings with the non-fatal findings. Load and
// Parse call it.
func (inv *Inventory) Validate() error {
	return inv.report(inv.validate(nil))
}

// report turns findings into located Problems: warnings go to
// inv.Warnings, errors are returned joined, in file order.
func (inv *Inventory) report(fs []finding) error {
	var errs, warns []Problem
	for _, f := range fs {
		p := inv.locate(f)
		if f.warn {
			warns = append(warns, p)
		} else {
			errs = append(errs, p)
		}
	}
	sortProblems(errs)
	sortProblems(warns)
	inv.Warnings = warns
	if len(errs) == 0 {
		return nil
	}
	joined := make([]error, len(errs))
	for i := range errs {
		joined[i] = &errs[i]
	}
	return errors.Join(joined...)
}

// underBad reports whether key or one of its parents failed to decode.
func underBad(key string, bad map[string]bool) bool {
	for k := key; k != ""; k = parentKey(k) {
		if bad[k] {
			return true
		}
	}
	return false
}

func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Key < b.Key
	})
}

// locate gives a finding its file, position and display path.
func (inv *Inventory) locate(f finding) Problem {
	p := inv.pos.lookup(f.key)
	return Problem{File: inv.File, Line: p.Line, Col: p.Col, Key: f.key, Path: inv.show(f.key), Message: f.msg, Err: f.err}
}

// show adds the element's name to a key path's array index:
// service[0].vip → service[0] ("syslog-udp").vip.
func (inv *Inventory) show(key string) string {
	kind, rest, ok := strings.Cut(key, "[")
	if !ok {
		return key
	}
	num, rest, ok := strings.Cut(rest, "]")
	if !ok {
		return key
	}
	i, err := strconv.Atoi(num)
	if err != nil || i < 0 {
		return key
	}
	name := ""
	switch kind {
	case "director":
		if i < len(inv.Directors) {
			name = inv.Directors[i].Name
		}
	case "logstash":
		if i < len(inv.Logstash) {
			name = inv.Logstash[i].Name
		}
	case "vip":
		if i < len(inv.VIPs) {
			name = inv.VIPs[i].Name
		}
	case "service":
		if i < len(inv.Services) {
			name = inv.Services[i].Name
		}
	}
	if name == "" {
		return key
	}
	return fmt.Sprintf("%s[%d] (%s)%s", kind, i, quote(name), rest)
}

// checker collects findings about one inventory.
type checker struct {
	inv      *Inventory
	findings []finding
	// bad holds keys that failed to decode (see decoder.bad).
	bad map[string]bool
}

// directorIndex returns the index of the first director matching f, or -1.
func (c *checker) directorIndex(f func(Director) bool) int {
	for i, d := range c.inv.Directors {
		if f(d) {
			return i
		}
	}
	return -1
}

// unsure reports whether the names of kind ("vip", "director", ...) are
// incomplete because some failed to decode; references to them are then
// not checked, to avoid a second message about the same mistake.
func (c *checker) unsure(kind string) bool {
	for k := range c.bad {
		if k == kind || strings.HasPrefix(k, kind+"[") && (strings.HasSuffix(k, "].name") || !strings.Contains(k[len(kind):], ".")) {
			return true
		}
	}
	return false
}

func (c *checker) errorf(key, format string, args ...any) {
	c.findings = append(c.findings, finding{key: key, msg: fmt.Sprintf(format, messageArgs(args)...)})
}

// placeholder reports a value hala import wrote because keepalived.conf
// does not say it (ErrPlaceholder).
func (c *checker) placeholder(key, msg string) {
	c.findings = append(c.findings, finding{key: key, err: ErrPlaceholder, msg: msg})
}

func (c *checker) warnf(key, format string, args ...any) {
	c.findings = append(c.findings, finding{key: key, msg: fmt.Sprintf(format, messageArgs(args)...), warn: true})
}

// set reports whether key is written in the file.
func (c *checker) set(key string) bool { return c.inv.pos.has(key) }

// ref names an element for messages: director[0] ("stash1").
func (c *checker) ref(key string) string { return c.inv.show(key) }

func (inv *Inventory) validate(bad map[string]bool) []finding {
	c := &checker{inv: inv, bad: bad}
	c.cluster()
	c.directors()
	c.logstash()
	c.vips()
	c.services()
	c.directorKeys()
	c.bgp()
	c.mhKeys()
	c.firewall()
	c.agent()
	c.monitoring()
	return c.findings
}

func (c *checker) cluster() {
	cl := c.inv.Cluster
	c.name("cluster.name", cl.Name, "the cluster's name")
	if cl.Interface != "" {
		c.ifname("cluster.interface", cl.Interface)
	}
	if p := cl.VRRPAuthPass; p != "" {
		c.authPass("cluster.vrrp_auth_pass", p)
	}
	// VRRP version 3 (needed below whole-second adverts and for IPv6) has no
	// authentication: keepalived ignores auth_pass there, so say it now.
	if cl.VRRPAuthPass != "" {
		if adv := cl.AdvertInterval.Duration; adv%time.Second != 0 {
			c.errorf("cluster.vrrp_auth_pass", "is set but advert_interval %s is not whole seconds, which needs VRRP version 3, which has no authentication: use whole seconds or drop vrrp_auth_pass", adv)
		}
		for i, v := range c.inv.VIPs {
			if v.Address.IsValid() && v.Address.Addr().Is6() && c.sameFamilyAsDirectors(v) && !c.ownAuthPass(i, v) {
				c.errorf(indexKey("vip", i)+".address", "is IPv6, which needs VRRP version 3, which has no authentication: drop cluster.vrrp_auth_pass")
			}
		}
	}
	c.advert("cluster.advert_interval", cl.AdvertInterval.Duration)
	for i, e := range cl.NotificationEmail {
		if !isEmail(e) {
			c.errorf(indexKey("cluster.notification_email", i), "%q is not an email address", e)
		}
	}
	if cl.NotificationEmailFrom != "" && !isEmail(cl.NotificationEmailFrom) {
		c.errorf("cluster.notification_email_from", "%q is not an email address", cl.NotificationEmailFrom)
	}
	if cl.SMTPServer != "" {
		if _, _, err := SplitSMTPServer(cl.SMTPServer); err != nil {
			c.errorf("cluster.smtp_server", "%q: %v", cl.SMTPServer, err)
		}
	} else if len(cl.NotificationEmail) > 0 {
		k := "cluster.notification_email"
		c.warnf(k, "is set but cluster.smtp_server is not: keepalived mails nothing without a mail relay; set smtp_server = \"HOST[:PORT]\"")
	}
	c.port("cluster.api_port", cl.APIPort)
	switch cl.APIScheme {
	case "http", "https":
	default:
		c.errorf("cluster.api_scheme", "%q is not http or https", cl.APIScheme)
	}
	if cl.APICA != "" {
		c.absPath("cluster.api_ca", cl.APICA)
		if cl.APIScheme == "http" {
			c.errorf("cluster.api_ca", "needs api_scheme = \"https\" (with http there is no certificate to verify)")
		}
	}
	if cl.APIAuthFile != "" {
		c.absPath("cluster.api_auth_file", cl.APIAuthFile)
		if cl.APIScheme == "http" {
			c.warnf("cluster.api_auth_file", "the Logstash API credentials cross the network in clear text with api_scheme = \"http\"; use https")
		}
	}
	switch ct := cl.CheckTimeout.Duration; {
	case ct <= 0:
		c.errorf("cluster.check_timeout", "%s must be positive", ct)
	case ct > time.Minute:
		c.errorf("cluster.check_timeout", "%s is longer than a minute; a health check that slow keeps dead backends in service", ct)
	}
	c.absPath("cluster.hala_path", cl.HalaPath)
	switch {
	case cl.ScriptUser == "root":
		c.errorf("cluster.script_user", "check scripts must not run as root; use an unprivileged user such as %q", DefaultScriptUser)
	case !userRE.MatchString(cl.ScriptUser):
		c.errorf("cluster.script_user", "%q is not a valid user name", cl.ScriptUser)
	}
	if cl.Unicast && len(c.inv.Directors) == 1 {
		c.errorf("cluster.unicast", "unicast VRRP needs at least two directors (keepalived has no peer to send adverts to)")
	}
}

// isEmail reports whether e looks like an email address keepalived can
// take as one word.
func isEmail(e string) bool {
	at := strings.Index(e, "@")
	return at > 0 && at < len(e)-1 && !strings.ContainsFunc(e, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`"'\{}#!`, r)
	})
}

// SplitSMTPServer splits cluster.smtp_server, "host" or "host:port" (an
// IPv6 address with a port in brackets), into keepalived's smtp_server
// host and port (port 25 when none is given).
func SplitSMTPServer(s string) (host string, port int, err error) {
	host, port = s, 25
	if h, p, splitErr := net.SplitHostPort(s); splitErr == nil {
		n, convErr := strconv.Atoi(p)
		if convErr != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("port %s is out of range 1-65535", quote(p))
		}
		host, port = h, n
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return host, port, nil
	}
	if !hostRE.MatchString(host) {
		return "", 0, fmt.Errorf("not a host name or IP address, optionally with :PORT")
	}
	return host, port, nil
}

// name checks a required name (it becomes a directory and a keepalived
// section name).
func (c *checker) name(key, value, what string) {
	switch {
	case value == "":
		c.errorf(key, "required: %s", what)
	case !nameRE.MatchString(value):
		c.errorf(key, "%q is not a valid name: use up to 63 letters, digits, '.', '_' and '-', starting with a letter or digit (names become directory names)", value)
	}
}

// ifname checks a Linux interface name for VRRP.
func (c *checker) ifname(key, value string) {
	switch {
	case value == "lo":
		c.errorf(key, "%q: keepalived ignores a vrrp_instance on the loopback interface (no VRRP adverts leave it, so no VIP would ever move); use the interface of the directors' network", value)
	case len(value) > 15:
		c.errorf(key, "interface name %q is %d characters; Linux allows at most 15", value, len(value))
	case value == "." || value == ".." || strings.ContainsFunc(value, func(r rune) bool {
		return r <= ' ' || r > '~' || strings.ContainsRune(`/:"'\#!{}`, r)
	}):
		c.errorf(key, "%q is not a valid interface name", value)
	}
}

func (c *checker) port(key string, p int) {
	if p < 1 || p > 65535 {
		c.errorf(key, "port %d is out of range 1-65535", p)
	}
}

// arg checks a value that goes into keepalived's double-quoted misc_path.
func (c *checker) arg(key, value string) bool {
	for _, r := range value {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '"' || r == '\'' || r == '\\' {
			what := strconv.QuoteRune(r)
			if r == ' ' {
				what = "a space"
			}
			c.errorf(key, "%q contains %s, which cannot be passed in keepalived's quoted misc_path", value, what)
			return false
		}
	}
	return true
}

// absPath checks a path on the directors that goes into misc_path.
func (c *checker) absPath(key, value string) {
	if !c.arg(key, value) {
		return
	}
	if !strings.HasPrefix(value, "/") || path.Clean(value) != value {
		c.errorf(key, "%q must be an absolute, clean path", value)
	}
}

// family names an address family for messages.
func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// hostSet tracks the names and addresses seen in one table of hosts
// ([[director]] or [[logstash]]), which must be unique within it.
type hostSet struct {
	table, nameWhat, addrWhat string
	names                     map[string]int
	addrs                     map[netip.Addr]int
}

func newHostSet(table, nameWhat, addrWhat string) *hostSet {
	return &hostSet{table: table, nameWhat: nameWhat, addrWhat: addrWhat,
		names: map[string]int{}, addrs: map[netip.Addr]int{}}
}

// host checks element i's name and address for presence, form and
// uniqueness within its table; it reports whether the address is usable
// for further checks.
func (c *checker) host(seen *hostSet, i int, name string, addr netip.Addr) bool {
	key := indexKey(seen.table, i)
	c.name(key+".name", name, seen.nameWhat)
	if j, dup := seen.names[name]; dup && name != "" {
		c.errorf(key+".name", "%q is also the name of %s", name, c.ref(indexKey(seen.table, j)))
	} else if name != "" {
		seen.names[name] = i
	}
	switch {
	case !addr.IsValid():
		c.errorf(key+".address", "required: %s", seen.addrWhat)
		return false
	case addr.IsUnspecified() && seen.table == "director":
		c.placeholder(key+".address", fmt.Sprintf("%s is a placeholder, not a host address: set the director's own address", addr))
		return false
	case addr.IsUnspecified() || addr.IsMulticast():
		c.errorf(key+".address", "%s is not a host address", addr)
		return false
	}
	if j, dup := seen.addrs[addr]; dup {
		c.errorf(key+".address", "%s is also the address of %s", addr, c.ref(indexKey(seen.table, j)))
	} else {
		seen.addrs[addr] = i
	}
	return true
}

func (c *checker) directors() {
	ds := c.inv.Directors
	if len(ds) == 0 {
		c.errorf("director", "at least one [[director]] is required")
		return
	}
	if len(ds) == 1 && !c.inv.Cluster.Unicast {
		c.warnf("director", "only one director: the VIPs have no failover")
	}
	if backups := len(ds) - 1; backups > MaxDistinctBackups {
		c.warnf("director", "%d directors: VRRP priorities leave room for %d backups of a VIP below its master (%d); the other %d share priority 1, so keepalived orders them by address: give the ones that matter an explicit priority", len(ds), MaxDistinctBackups, MasterPriority, backups-MaxDistinctBackups+1)
	}
	seen := newHostSet("director", "the director's host name", "the director's own IP address")
	for i, d := range ds {
		key := indexKey("director", i)
		if c.host(seen, i, d.Name, d.Address) {
			if first := ds[0].Address; i > 0 && first.IsValid() && first.Is4() != d.Address.Is4() {
				c.errorf(key+".address", "%s is %s but %s is %s: all directors need one address family", d.Address, family(d.Address), c.ref("director[0]"), family(first))
			}
		}
		if d.Interface == "" {
			c.errorf(key+".interface", "no VRRP interface: set cluster.interface or this director's interface")
		} else if d.Interface != c.inv.Cluster.Interface || c.set(key+".interface") {
			c.ifname(key+".interface", d.Interface)
		}
		if d.Priority != 0 && (d.Priority < 1 || d.Priority > 254) {
			c.errorf(key+".priority", "%d is out of range 1-254 (255 is reserved for the VRRP address owner; leave it out to derive it)", d.Priority)
		}
	}
}

func (c *checker) logstash() {
	ls := c.inv.Logstash
	if len(ls) == 0 {
		c.errorf("logstash", "at least one [[logstash]] host is required")
		return
	}
	seen := newHostSet("logstash", "the Logstash host's name", "the Logstash host's IP address")
	for i, l := range ls {
		key := indexKey("logstash", i)
		if c.host(seen, i, l.Name, l.Address) {
			// A director and a Logstash host may be one machine (as in the
			// classic two-node setup); then name and address must agree,
			// since each host's files go to one directory.
			// Compare with the first director of that name or address
			// (duplicates among directors are reported on their own).
			if j := c.directorIndex(func(d Director) bool { return d.Name == l.Name }); j >= 0 && l.Name != "" {
				if d := c.inv.Directors[j]; d.Address.IsValid() && d.Address != l.Address {
					c.errorf(key+".address", "%s differs from %s's %s: a director and a Logstash host with one name are one host", l.Address, c.ref(indexKey("director", j)), d.Address)
				}
			}
			if j := c.directorIndex(func(d Director) bool { return d.Address == l.Address }); j >= 0 {
				if d := c.inv.Directors[j]; d.Name != l.Name {
					c.errorf(key+".address", "%s is %s's address: a host that is both director and Logstash node needs one name", l.Address, c.ref(indexKey("director", j)))
				}
			}
		}
		// An inherited api_port is cluster.api_port, checked there.
		if c.set(key+".api_port") || l.APIPort != c.inv.Cluster.APIPort {
			c.port(key+".api_port", l.APIPort)
		}
	}
}

func (c *checker) vips() {
	vs := c.inv.VIPs
	if len(vs) == 0 {
		c.errorf("vip", "at least one [[vip]] is required")
		return
	}
	names := map[string]int{}
	addrs := map[netip.Addr]int{}
	type vrid struct {
		id  int
		is4 bool
	}
	ids := map[vrid]int{}
	var dirFamily netip.Addr
	if len(c.inv.Directors) > 0 {
		dirFamily = c.inv.Directors[0].Address
	}
	for i, v := range vs {
		key := indexKey("vip", i)
		c.name(key+".name", v.Name, "the VIP's name")
		if j, dup := names[v.Name]; dup && v.Name != "" {
			c.errorf(key+".name", "%q is also the name of %s", v.Name, c.ref(indexKey("vip", j)))
		} else if v.Name != "" {
			names[v.Name] = i
		}

		switch {
		case c.inv.Cluster.HA != HAVRRP && v.RouterID == 0:
			// No VRRP instance: the VIP needs no virtual_router_id.
		case v.RouterID == 0 && !c.set(key+".router_id"):
			c.errorf(key+".router_id", "required: the VRRP virtual_router_id (1-255), unique among the VRRP instances on the directors' network")
		case v.RouterID == 0:
			// hala import writes 0 for a virtual_server address no vrrp_instance holds.
			c.placeholder(key+".router_id", "0 is out of range 1-255 (hala import's placeholder where no vrrp_instance holds a virtual_server's address): set a VRRP virtual_router_id no other VRRP instance on the directors' network uses")
		case v.RouterID < 1 || v.RouterID > 255:
			c.errorf(key+".router_id", "%d is out of range 1-255", v.RouterID)
		case v.Address.IsValid():
			// Instances of one family share a socket per interface, and
			// every VIP runs on every director: ids must differ.
			k := vrid{v.RouterID, v.Address.Addr().Is4()}
			if j, dup := ids[k]; dup {
				c.errorf(key+".router_id", "%d is already used by %s on the same interface; each VRRP instance needs its own id", v.RouterID, c.ref(indexKey("vip", j)))
			} else {
				ids[k] = i
			}
		}

		if !v.Address.IsValid() {
			c.errorf(key+".address", "required: the virtual address with its prefix, e.g. \"192.168.1.230/24\"")
		} else {
			c.vipAddress(key, i, v, addrs, dirFamily)
		}

		c.vipVRRP(key, i, v)
		if v.Interface != "" {
			c.ifname(key+".interface", v.Interface)
		}
		c.vrrpVersion(key, v)

		if v.Master != "" {
			if _, ok := c.inv.Director(v.Master); !ok && !c.unsure("director") {
				c.errorf(key+".master", "%q names no [[director]] (known: %s)", v.Master, known(directorNames(c.inv)))
			} else if ok {
				c.masterPriority(key, v)
			}
		}
	}
}

// vrrpVersion checks a VIP's vrrp_version against what its advert
// interval, address family and password need.
func (c *checker) vrrpVersion(key string, v VIP) {
	k := key + ".vrrp_version"
	switch v.VRRPVersion {
	case 0:
	case 2:
		if v.AdvertInterval.Duration%time.Second != 0 {
			c.errorf(k, "2 cannot advertise every %s: below whole seconds needs version 3", v.AdvertInterval.Duration)
		}
		if v.Address.IsValid() && v.Address.Addr().Is6() {
			c.errorf(k, "2 is IPv4 only: an IPv6 VIP advertises VRRP version 3")
		}
	case 3:
		if v.VRRPAuthPass != "" {
			c.errorf(k, "3 has no authentication: set vrrp_auth_pass = \"\" on this VIP")
		}
	default:
		c.errorf(k, "%d is not a VRRP version keepalived speaks (2 or 3)", v.VRRPVersion)
	}
}

// authPass checks a VRRP PASS password (cluster or per-VIP).
func (c *checker) authPass(key, p string) {
	if len(p) > 8 {
		c.errorf(key, "is %d characters; keepalived's PASS authentication uses at most 8 (it would silently cut the rest)", len(p))
	}
	for _, r := range p {
		if r <= ' ' || r > '~' || r == '"' || r == '\\' || r == '\'' {
			c.errorf(key, "contains %q: use printable ASCII without spaces, quotes or backslashes", r)
			break
		}
	}
}

// advert checks a VRRP advert interval (cluster or per-VIP).
func (c *checker) advert(key string, adv time.Duration) {
	if adv < minAdvert || adv > maxAdvert {
		c.errorf(key, "%s is outside keepalived's range 10ms-255s", adv)
	} else if adv%minAdvert != 0 {
		c.errorf(key, "%s is not a multiple of 10ms (VRRP counts centiseconds)", adv)
	}
}

// ownAuthPass reports whether VIP i sets its own vrrp_auth_pass.
func (c *checker) ownAuthPass(i int, v VIP) bool {
	return c.set(indexKey("vip", i)+".vrrp_auth_pass") || v.VRRPAuthPass != c.inv.Cluster.VRRPAuthPass
}

// vipVRRP checks VIP i's own advert_interval and vrrp_auth_pass (hala
// import writes them when keepalived.conf's instances differ); what the
// VIP takes from the cluster is checked there.
func (c *checker) vipVRRP(key string, i int, v VIP) {
	ownAdvert := c.set(key+".advert_interval") || v.AdvertInterval != c.inv.Cluster.AdvertInterval
	ownPass := c.ownAuthPass(i, v)
	if ownAdvert {
		c.advert(key+".advert_interval", v.AdvertInterval.Duration)
	}
	if ownPass && v.VRRPAuthPass != "" {
		c.authPass(key+".vrrp_auth_pass", v.VRRPAuthPass)
	}
	if v.VRRPAuthPass == "" || !ownAdvert && !ownPass {
		return
	}
	k := key + ".vrrp_auth_pass"
	if !ownPass {
		k = key + ".advert_interval"
	}
	if adv := v.AdvertInterval.Duration; adv%time.Second != 0 {
		c.errorf(k, "password set but advert_interval %s is not whole seconds, which needs VRRP version 3, which has no authentication: use whole seconds or vrrp_auth_pass = \"\"", adv)
	}
	if ownPass && v.Address.IsValid() && v.Address.Addr().Is6() && c.sameFamilyAsDirectors(v) {
		c.errorf(k, "is set but the VIP is IPv6, which needs VRRP version 3, which has no authentication: use vrrp_auth_pass = \"\"")
	}
}

func (c *checker) vipAddress(key string, i int, v VIP, addrs map[netip.Addr]int, dirFamily netip.Addr) {
	a, bits := v.Address.Addr(), v.Address.Bits()
	k := key + ".address"
	switch {
	case a.IsLoopback():
		c.errorf(k, "%s is a loopback address: every host has it on lo, so clients could never reach the VIP on a director and VRRP would have nothing to move; use an address of the directors' network", a)
		return
	case a.IsUnspecified() || a.IsMulticast():
		c.errorf(k, "%s is not a usable virtual address (unspecified or multicast)", a)
		return
	}
	if dirFamily.IsValid() && dirFamily.Is4() != a.Is4() {
		c.errorf(k, "%s is %s but the directors are %s: keepalived needs the directors' family on the VRRP interface", v.Address, family(a), family(dirFamily))
		return
	}
	if j, dup := addrs[a]; dup {
		c.errorf(k, "%s is also the address of %s", a, c.ref(indexKey("vip", j)))
	} else {
		addrs[a] = i
	}
	for j, d := range c.inv.Directors {
		if d.Address == a {
			c.errorf(k, "%s is %s's own address; a VIP needs an address of its own", a, c.ref(indexKey("director", j)))
		}
	}
	for j, l := range c.inv.Logstash {
		if l.Address == a {
			c.errorf(k, "%s is %s's own address; a VIP needs an address of its own", a, c.ref(indexKey("logstash", j)))
		}
	}
	if bits < a.BitLen()-1 {
		masked := v.Address.Masked()
		if a == masked.Addr() {
			c.errorf(k, "%s is the network address of %s; pick a host address", a, masked)
		} else if a.Is4() && a == lastAddr(masked) {
			c.errorf(k, "%s is the broadcast address of %s; pick a host address", a, masked)
		}
	}
	if bits < a.BitLen() {
		masked := v.Address.Masked()
		var outside []string
		for _, d := range c.inv.Directors {
			if d.Address.IsValid() && !d.Address.IsUnspecified() && !masked.Contains(d.Address) {
				outside = append(outside, fmt.Sprintf("%s (%s)", quote(d.Name), d.Address))
			}
		}
		if len(outside) > 0 {
			c.errorf(k, "director %s is outside %s: use /%d for a VIP off the directors' subnet", strings.Join(outside, ", "), masked, a.BitLen())
		}
	}
}

// sameFamilyAsDirectors reports whether v has the directors' address
// family (when not, that is reported on v itself).
func (c *checker) sameFamilyAsDirectors(v VIP) bool {
	if len(c.inv.Directors) == 0 || !c.inv.Directors[0].Address.IsValid() {
		return true
	}
	return c.inv.Directors[0].Address.Is4() == v.Address.Addr().Is4()
}

// lastAddr returns the last address of an IPv4 prefix (its broadcast).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n |= host
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// masterPriority checks that explicit director priorities leave v's master
// as its single preferred holder.
func (c *checker) masterPriority(key string, v VIP) {
	master, _ := c.inv.Director(v.Master)
	mp := c.inv.Priority(v, master)
	for _, d := range c.inv.Directors {
		if d.Name == master.Name {
			continue
		}
		if p := c.inv.Priority(v, d); p >= mp {
			k := key + ".master"
			if !c.set(k) {
				k = key
			}
			c.errorf(k, "master %q has priority %d but director %q has %d: each VIP needs one preferred master (raise the master's priority or drop the explicit priorities)", master.Name, mp, d.Name, p)
			return
		}
	}
}

func directorNames(inv *Inventory) []string {
	out := make([]string, len(inv.Directors))
	for i, d := range inv.Directors {
		out[i] = d.Name
	}
	return out
}

// known formats names for "known: ..." hints.
func known(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	q := make([]string, 0, len(names))
	for i, n := range names {
		if i == 8 {
			q = append(q, fmt.Sprintf("and %d more", len(names)-i))
			break
		}
		q = append(q, quote(n))
	}
	return strings.Join(q, ", ")
}

func (c *checker) services() {
	ss := c.inv.Services
	if len(ss) == 0 {
		c.errorf("service", "at least one [[service]] is required")
		return
	}
	type listener struct {
		vip   string
		port  int
		proto string
	}
	type input struct{ id, pipeline string }
	names := map[string]int{}
	listeners := map[listener]int{}
	binds := map[bound]int{}
	inputs := map[input]int{}
	vipNames := make([]string, len(c.inv.VIPs))
	for i, v := range c.inv.VIPs {
		vipNames[i] = v.Name
	}
	lsNames := make([]string, len(c.inv.Logstash))
	for i, l := range c.inv.Logstash {
		lsNames[i] = l.Name
	}
	misc := c.inv.MiscTimeout()

	for i, s := range ss {
		key := indexKey("service", i)
		c.name(key+".name", s.Name, "the service's name")
		if j, dup := names[s.Name]; dup && s.Name != "" {
			c.errorf(key+".name", "%q is also the name of %s", s.Name, c.ref(indexKey("service", j)))
		} else if s.Name != "" {
			names[s.Name] = i
		}

		vip, vipOK := c.inv.VIP(s.VIP)
		switch {
		case s.VIP == "":
			c.errorf(key+".vip", "required: the name of the [[vip]] this service listens on")
		case !vipOK && !c.unsure("vip"):
			c.errorf(key+".vip", "%q names no [[vip]] (known: %s)", s.VIP, known(vipNames))
		}

		if s.Port == 0 && !c.set(key+".port") {
			c.errorf(key+".port", "required: the port clients send to on the VIP")
		} else {
			c.port(key+".port", s.Port)
		}
		// An unset backend_port is port, already checked.
		if c.set(key+".backend_port") || s.BackendPort != s.Port {
			c.port(key+".backend_port", s.BackendPort)
		}
		if s.BackendPort >= 1 && s.BackendPort < 1024 {
			k := key + ".backend_port"
			if !c.set(k) {
				k = key + ".port"
			}
			if s.Forwarding == "nat" {
				c.warnf(k, "Logstash input port %d is below 1024: Debian's Logstash runs as user logstash and cannot bind it; set backend_port = 5514 (NAT maps port %d to it)", s.BackendPort, s.Port)
			} else {
				c.warnf(k, "Logstash input port %d is below 1024: Debian's Logstash runs as user logstash and cannot bind it, and %q cannot map ports; use forwarding = \"nat\" with backend_port = 5514, or a port above 1023", s.BackendPort, s.Forwarding)
			}
		}

		protoOK := false
		switch s.Protocol {
		case "":
			c.errorf(key+".protocol", "required: \"udp\" or \"tcp\"")
		case "udp", "tcp":
			protoOK = true
		default:
			c.errorf(key+".protocol", "%q is not udp or tcp", s.Protocol)
		}

		if s.InputID == "" && c.set(key+".input_id") {
			// hala import writes "" where the real servers' checker names no input.
			c.placeholder(key+".input_id", "\"\" is a placeholder: set the id of the Logstash input that must be running on each backend (keepalived's checker, in the comment above, does not say)")
		} else if s.InputID == "" {
			c.errorf(key+".input_id", "required: the id of the Logstash input that must be running on each backend")
		} else if c.arg(key+".input_id", s.InputID) && c.noSubstitution(key+".input_id", s.InputID) {
			in := input{s.InputID, s.Pipeline}
			if j, dup := inputs[in]; dup {
				c.errorf(key+".input_id", "%q is also the input_id of %s: Logstash refuses two inputs with one id in a pipeline", s.InputID, c.ref(indexKey("service", j)))
			} else {
				inputs[in] = i
			}
		}
		if s.Pipeline != "" && !nameRE.MatchString(s.Pipeline) {
			// It names a directory of rendered inputs and goes into misc_path.
			c.errorf(key+".pipeline", "%q is not a valid pipeline id: use up to 63 letters, digits, '.', '_' and '-', starting with a letter or digit", s.Pipeline)
		}

		if !contains(Schedulers, s.Scheduler) {
			c.errorf(key+".scheduler", "%q is not an IPVS scheduler keepalived accepts (%s)", s.Scheduler, strings.Join(Schedulers, " "))
		}
		if !contains(ForwardingMethods, s.Forwarding) {
			c.errorf(key+".forwarding", "%q is not nat, dr or tun", s.Forwarding)
		} else if s.Forwarding != "nat" && s.BackendPort != s.Port && s.BackendPort != 0 && s.Port != 0 {
			c.errorf(key+".backend_port", "%d differs from port %d, but forwarding %q cannot change ports (only nat can)", s.BackendPort, s.Port, s.Forwarding)
		}

		if s.OnePacket {
			switch {
			case s.Protocol == "tcp":
				c.errorf(key+".one_packet", "applies to UDP only: keepalived silently drops \"ops\" on a TCP service")
			case s.Scheduler == "lc" || s.Scheduler == "wlc" || s.Scheduler == "sed" || s.Scheduler == "nq":
				// Measured on a real kernel: 1000 of 1000 datagrams went to one real
				// server (pkg/internal/traffic TestIntegrationUDPTraffic).
				c.warnf(key+".one_packet", "with scheduler %q sends every datagram to one backend: one-packet scheduling keeps no connection entries for %s to count; use rr or wrr", s.Scheduler, s.Scheduler)
			}
		}

		switch dl := s.DelayLoop.Duration; {
		case dl <= 0:
			c.errorf(key+".delay_loop", "%s must be positive", dl)
		case dl <= misc:
			c.errorf(key+".delay_loop", "%s must be longer than the check's misc_timeout %s (cluster.check_timeout %s rounded up, plus 1s)", dl, misc, c.inv.Cluster.CheckTimeout.Duration)
		}
		switch p := s.Persistence.Duration; {
		case p < 0:
			c.errorf(key+".persistence", "%s must not be negative", p)
		case p%time.Second != 0:
			c.errorf(key+".persistence", "%s is not whole seconds (keepalived's persistence_timeout counts seconds)", p)
		}
		if s.Weight < 0 || s.Weight > 65535 {
			c.errorf(key+".weight", "%d is out of range 0-65535", s.Weight)
		} else if s.Weight == 0 {
			c.warnf(key+".weight", "0: IPVS sends no new connections to these backends (quiesced)")
		}

		c.checkOptions(key, s)

		if protoOK && vipOK && s.Port != 0 {
			l := listener{vip.Name, s.Port, s.Protocol}
			if j, dup := listeners[l]; dup {
				c.errorf(key+".port", "%s %d on vip %q is already %s's", s.Protocol, s.Port, vip.Name, c.ref(indexKey("service", j)))
			} else {
				listeners[l] = i
			}
		}

		c.backends(key, i, s, vip, vipOK, lsNames, binds, protoOK)
	}
}

// noSubstitution rejects "${" in a value rendered into a Logstash config:
// Logstash replaces ${NAME} (and ${NAME:default}) with an environment or
// keystore value, so the running input's id would differ from the one the
// check asks for. A bare '$' is kept: Logstash substitutes only ${...},
// and keepalived only parameters the config defines (hala defines none).
func (c *checker) noSubstitution(key, value string) bool {
	if strings.Contains(value, "${") {
		c.errorf(key, "%q contains \"${\": Logstash replaces ${NAME} in config values with a variable's value, so the running input's id would not be the one hala check asks for", value)
		return false
	}
	return true
}

// Values of service.weights.
const (
	// WeightsStatic keeps every backend at service.weight.
	WeightsStatic = "static"
	// WeightsLoad lets hala check --dynamic-weight set the weights
	// (keepalived's misc_dynamic).
	WeightsLoad = "load"
)

// loadSchedulers spread new connections in proportion to the weights, so a
// weight that follows load moves traffic. rr, lc and dh only skip weight
// 0; sh, mh, lblc, lblcr, fo and ovf use weights to place flows or cap a
// server, where weights changing every check would move clients or send
// everything to one server.
var loadSchedulers = []string{"wrr", "wlc", "sed", "nq", "twos"}

// checkOptions checks the keys that become hala check flags.
func (c *checker) checkOptions(key string, s Service) {
	switch s.Weights {
	case WeightsStatic:
	case WeightsLoad:
		switch {
		case s.OnePacket && s.Protocol == "udp" && s.Scheduler != "wrr":
			// One-packet scheduling keeps no connection entries: lc, wlc,
			// sed and nq see every server idle and pick the same one
			// (pkg/internal/traffic TestIntegrationUDPTraffic).
			c.errorf(key+".weights", "\"load\" with one_packet needs scheduler \"wrr\": with one-packet scheduling only wrr spreads datagrams by weight (scheduler is %q)", s.Scheduler)
		case contains(loadSchedulers, s.Scheduler):
		case s.Scheduler == SchedulerMH:
			c.errorf(key+".weights", "\"load\" with scheduler \"mh\": mh builds its table from the weights, so weights that follow each director's own checks would give every director its own table and move connections between backends; keep weights = \"static\"")
		case s.Scheduler == "rr" || s.Scheduler == "lc" || s.Scheduler == "dh":
			c.errorf(key+".weights", "\"load\" needs a scheduler that spreads by weight, but %q ignores weights (other than 0): use %s", s.Scheduler, strings.Join(loadSchedulers, ", "))
		case contains(Schedulers, s.Scheduler):
			c.errorf(key+".weights", "\"load\" with scheduler %q: its weights place flows or cap a server, so weights that follow load would move clients at every check; use %s", s.Scheduler, strings.Join(loadSchedulers, ", "))
		}
	default:
		c.errorf(key+".weights", "%q is not \"static\" or \"load\"", s.Weights)
	}
	switch mi := s.MaxIdle.Duration; {
	case mi == 0 && !c.set(key+".max_idle"):
	case mi <= 0:
		c.errorf(key+".max_idle", "%s must be positive (leave it out to turn the idle check off)", mi)
	case mi <= s.DelayLoop.Duration:
		c.errorf(key+".max_idle", "%s must be longer than delay_loop %s: the check sees events.out once per delay_loop", mi, s.DelayLoop.Duration)
	}
	if s.Probe {
		switch {
		case s.Protocol == "udp":
			c.errorf(key+".probe", "applies to TCP inputs only: a UDP input has nothing to connect to")
		case s.Protocol == "tcp" && s.Forwarding != "nat":
			c.errorf(key+".probe", "needs forwarding = \"nat\": with %q the input binds the VIP, not the backend's address, so the probe would always fail", s.Forwarding)
		}
	}
}

// bound is a port a Logstash host's input binds.
type bound struct {
	host  string
	port  int
	proto string
}

func (c *checker) backends(key string, i int, s Service, vip VIP, vipOK bool, lsNames []string, binds map[bound]int, protoOK bool) {
	if len(s.Backends) == 0 {
		if c.set(key + ".backends") {
			c.errorf(key+".backends", "is empty: leave it out to use every [[logstash]] host")
		}
		return
	}
	seen := map[string]bool{}
	var alsoDirectors, notDirectors []string
	for j, b := range s.Backends {
		bk := indexKey(key+".backends", j)
		l, ok := c.inv.LogstashHost(b)
		if !ok {
			if c.unsure("logstash") {
				continue
			}
			c.errorf(bk, "%q names no [[logstash]] host (known: %s)", b, known(lsNames))
			continue
		}
		if seen[b] {
			c.errorf(bk, "%q is listed twice", b)
			continue
		}
		seen[b] = true
		if vipOK && vip.Address.IsValid() && l.Address.IsValid() && vip.Address.Addr().Is4() != l.Address.Is4() && c.sameFamilyAsDirectors(vip) {
			c.errorf(bk, "%q (%s) is %s but vip %q is %s", b, l.Address, family(l.Address), vip.Name, family(vip.Address.Addr()))
		}
		if _, isDirector := c.inv.Director(b); isDirector {
			alsoDirectors = append(alsoDirectors, quote(b))
		}
		if l.Address.IsValid() && c.directorIndex(func(d Director) bool { return d.Address == l.Address }) < 0 {
			notDirectors = append(notDirectors, quote(b))
		}
		if !protoOK || s.BackendPort == 0 {
			continue
		}
		if s.Protocol == "tcp" && s.BackendPort == l.APIPort {
			c.errorf(bk, "%q receives tcp %d, which is its Logstash API port", b, s.BackendPort)
		}
		bd := bound{b, s.BackendPort, s.Protocol}
		if first, dup := binds[bd]; dup && first != i {
			c.errorf(bk, "%q already receives %s %d for %s: two Logstash inputs cannot bind one port (set another backend_port)", b, s.Protocol, s.BackendPort, c.ref(indexKey("service", first)))
		} else {
			binds[bd] = i
		}
	}
	if s.Forwarding == "nat" && s.Protocol == "tcp" && len(notDirectors) > 0 {
		k := key + ".forwarding"
		if !c.set(k) {
			k = key + ".protocol"
		}
		c.warnf(k, "tcp with \"nat\" to backends that are not directors (%s): IPVS NAT rewrites only the destination, so their replies must go back through the director holding the VIP, or clients drop the SYN-ACK; route replies via the directors (default gateway on a director-side address), or use forwarding = \"dr\"", strings.Join(notDirectors, ", "))
	}
	if s.Forwarding == "dr" && len(alsoDirectors) > 0 {
		c.warnf(key+".forwarding", "\"dr\" with backends that are also directors (%s): the backup director's IPVS may forward packets it should deliver locally; nat avoids that", strings.Join(alsoDirectors, ", "))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

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
