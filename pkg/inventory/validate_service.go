package inventory

// Rules for the [[service]] table: ports, schedulers, check options and backends.

import (
	"strings"
	"time"
)

// Schedulers are the IPVS schedulers keepalived's lvs_sched accepts.
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"}

// ForwardingMethods are the IPVS forwarding methods (keepalived lvs_method).
var ForwardingMethods = []string{"nat", "dr", "tun"}

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
