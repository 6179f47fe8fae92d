package inventory

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
