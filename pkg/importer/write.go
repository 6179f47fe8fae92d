package importer

import (
	"fmt"
	"strings"
)

// write formats the inventory as TOML, the notes first.
func (im *importer) write() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Imported by hala import from %s.\n", comment(im.src))
	b.WriteString("# Check it with hala validate, render it and compare with the original before\n# replacing it; set firewall.log_sources (keepalived.conf does not say).\n")
	if im.directorPlaceholder {
		b.WriteString("#\n# PLACEHOLDER: the file names no director address (multicast or no VRRP): set each\n# [[director]] address below (0.0.0.0 now; hala validate rejects it), or run\n# hala import again with --director NAME=ADDR for every director.\n")
	}
	if im.placeholders > 0 {
		b.WriteString("#\n# Every value marked PLACEHOLDER is one keepalived.conf does not say (hala\n# validate rejects each, saying what to set).\n")
	}
	if len(im.notes) > 0 {
		b.WriteString("#\n# Not mapped (file:line: what: why):\n")
		for _, n := range im.notes {
			b.WriteString("#   " + comment(n) + "\n")
		}
	}
	b.WriteString("\n[cluster]\n")
	kv(&b, "name", "imported")
	if im.iface != "" {
		kv(&b, "interface", im.iface)
	} else {
		b.WriteString("# interface = \"eth0\"  # no vrrp_instance names the VRRP interface: set it\n")
	}
	var first vip
	if len(im.vips) > 0 {
		first = im.vips[0]
	}
	if first.auth != "" {
		kv(&b, "vrrp_auth_pass", first.auth)
	}
	if im.unicast {
		b.WriteString("unicast = true\n")
	}
	if advertOf(first) != "1s" {
		kv(&b, "advert_interval", first.advert)
	}
	if len(im.emails) > 0 {
		b.WriteString("notification_email = [")
		for i, e := range im.emails {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quote(e))
		}
		b.WriteString("]\n")
		if im.emailFrom != "" {
			kv(&b, "notification_email_from", im.emailFrom)
		}
		if im.smtp != "" {
			kv(&b, "smtp_server", im.smtp)
		}
	}
	if im.opts.LogstashPort != 9600 {
		fmt.Fprintf(&b, "api_port = %d\n", im.opts.LogstashPort)
	}
	for _, p := range [][2]string{
		{"api_scheme", im.scheme}, {"api_ca", im.ca}, {"api_auth_file", im.authFile},
		{"check_timeout", im.checkTimeout}, {"hala_path", im.halaPath}, {"script_user", im.scriptUser},
	} {
		if p[1] != "" {
			kv(&b, p[0], p[1])
		}
	}
	if im.director {
		kv(&b, "ipvs", "director")
		if im.metricsAddress != "" {
			kv(&b, "metrics_address", im.metricsAddress)
		}
	}
	for _, d := range im.directors {
		b.WriteString("\n[[director]]\n")
		kv(&b, "name", d.name)
		if d.addr.IsValid() {
			kv(&b, "address", d.addr.String())
		} else {
			placeholder := "0.0.0.0"
			if len(im.vips) > 0 && im.vips[0].addr.Addr().Is6() {
				placeholder = "::"
			}
			fmt.Fprintf(&b, "address = %s  # PLACEHOLDER: this director's own address\n", quote(placeholder))
		}
	}
	for _, h := range im.logstash {
		b.WriteString("\n[[logstash]]\n")
		kv(&b, "name", h.name)
		kv(&b, "address", h.addr.String())
		if h.apiPort != 0 && h.apiPort != im.opts.LogstashPort {
			fmt.Fprintf(&b, "api_port = %d\n", h.apiPort)
		}
	}
	for _, v := range im.vips {
		b.WriteString("\n[[vip]]\n")
		kv(&b, "name", v.name)
		kv(&b, "address", v.addr.String())
		if v.fromVirtualServer {
			fmt.Fprintf(&b, "router_id = 0  # PLACEHOLDER: no vrrp_instance holds this virtual_server address (%s); set a free VRRP id 1-255\n", comment(v.pos.String()))
			continue
		}
		fmt.Fprintf(&b, "router_id = %d\n", v.routerID)
		// The instance's own VRRP settings where they differ from the
		// first's (the cluster's): peers must keep agreeing.
		if v.auth != first.auth {
			fmt.Fprintf(&b, "vrrp_auth_pass = %s  # %s\n", quote(v.auth), comment(authNote(v)))
		}
		if v.iface != first.iface {
			fmt.Fprintf(&b, "interface = %s  # interface at %s\n", quote(v.iface), comment(v.pos.String()))
		}
		if v.version3 {
			fmt.Fprintf(&b, "vrrp_version = 3  # version at %s\n", comment(v.pos.String()))
		}
		if advertOf(v) != advertOf(first) {
			fmt.Fprintf(&b, "advert_interval = %s  # advert_int at %s\n", quote(advertOf(v)), comment(v.pos.String()))
		}
		if v.master != "" && v.backup {
			fmt.Fprintf(&b, "master = %s  # %s is BACKUP here; keepalived.conf does not say which director is master\n", quote(v.master), comment(im.this))
		} else if v.master != "" {
			kv(&b, "master", v.master)
		}
	}
	for _, s := range im.services {
		b.WriteString("\n[[service]]\n")
		kv(&b, "name", s.name)
		kv(&b, "vip", s.vip)
		fmt.Fprintf(&b, "port = %d\n", s.port)
		kv(&b, "protocol", s.protocol)
		for _, c := range s.checkers {
			b.WriteString("# keepalived checked with " + comment(c) + "\n")
		}
		if s.inputID == "" {
			b.WriteString("input_id = \"\"  # PLACEHOLDER: the id of the Logstash input hala check must find running\n")
		} else {
			kv(&b, "input_id", s.inputID)
		}
		kv(&b, "scheduler", s.scheduler)
		kv(&b, "forwarding", s.forwarding)
		if s.onePacket {
			b.WriteString("one_packet = true\n")
		}
		// mh_port and mh_fallback default to true; keepalived's keywords
		// default to off.
		if s.scheduler == "mh" && !s.mhPort {
			b.WriteString("mh_port = false\n")
		}
		if s.scheduler == "mh" && !s.mhFallback {
			b.WriteString("mh_fallback = false\n")
		}
		for _, p := range [][2]string{{"delay_loop", s.delayLoop}, {"persistence", s.persistence}, {"pipeline", s.pipeline}, {"max_idle", s.maxIdle}} {
			if p[1] != "" {
				kv(&b, p[0], p[1])
			}
		}
		if s.backendPort > 0 {
			fmt.Fprintf(&b, "backend_port = %d\n", s.backendPort)
		}
		if s.weight != 1 {
			fmt.Fprintf(&b, "weight = %d\n", s.weight)
		}
		if s.dynamic {
			kv(&b, "weights", "load")
		}
		if s.requireRunning {
			b.WriteString("require_running = true\n")
		}
		if s.probe {
			b.WriteString("probe = true\n")
		}
		if len(s.backends) != len(im.logstash) {
			b.WriteString("backends = [")
			for i, n := range s.backends {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(quote(n))
			}
			b.WriteString("]\n")
		}
	}
	return []byte(b.String())
}

func kv(b *strings.Builder, key, value string) {
	b.WriteString(key + " = " + quote(value) + "\n")
}

// quote writes s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// comment makes s safe on one TOML comment line (no control characters).
func comment(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// advertOf is an instance's advert interval (keepalived's default 1s).
func advertOf(v vip) string {
	if v.advert == "" {
		return "1s"
	}
	return v.advert
}

func authNote(v vip) string {
	if v.auth == "" {
		return v.pos.String() + " has no authentication"
	}
	return "auth_pass of " + v.pos.String()
}
