package inventory

// Rules for the [cluster] table: name, interface, VRRP defaults, API,
// script user and notification e-mail.

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
)

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
