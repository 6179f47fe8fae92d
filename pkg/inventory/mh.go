package inventory

import "fmt"

// SchedulerMH is IPVS's Maglev hashing scheduler: it picks a flow's backend
// from a table built from the destination list alone, so directors with
// the same list pick the same backend for the same flow.
const SchedulerMH = "mh"

// UsesMH reports whether the service is scheduled by Maglev hashing.
func (s Service) UsesMH() bool { return s.Scheduler == SchedulerMH }

func (inv *Inventory) setMHDefaults() {
	set := inv.pos.has
	for i := range inv.Services {
		s := &inv.Services[i]
		key := indexKey("service", i)
		if !set(key + ".mh_port") {
			s.MHPort = true
		}
		if !set(key + ".mh_fallback") {
			s.MHFallback = true
		}
	}
}

// tcpAcrossDirectors checks a TCP service under cluster.ha = "bgp": the
// router may move any of its connections to another director at any time
// (one dies or joins), which must forward the next packet to the same
// backend without having seen the connection start.
func (c *checker) tcpAcrossDirectors(key string, s Service) {
	// An unset forwarding or scheduler is reported at the protocol line
	// that made the service TCP, naming the default that is refused.
	if s.Forwarding == "nat" {
		k, what := key+".forwarding", `"nat" with a tcp service`
		if !c.set(k) {
			k, what = key+".protocol", `"tcp" with forwarding "nat" (the default)`
		}
		c.errorf(k, "%s under cluster.ha = \"bgp\": a NAT backend's replies must return through the director holding the connection, but the router spreads a connection's packets over every director; use forwarding = \"dr\" (backends hold the VIP on lo; their setup.sh does it) or \"tun\"", what)
	}
	if !s.UsesMH() {
		k, what := key+".scheduler", fmt.Sprintf("%q with a tcp service", s.Scheduler)
		if !c.set(k) {
			k, what = key+".protocol", fmt.Sprintf("\"tcp\" with scheduler %q (the default)", s.Scheduler)
		}
		c.errorf(k, "%s under cluster.ha = \"bgp\": when a director dies or joins, the router moves connections to directors that never saw them, which must pick the same backend; only scheduler = \"mh\" (Maglev hashing) picks it from the flow alone, the same on every director", what)
		return
	}
	if s.OnFailure == OnFailureRemove {
		c.errorf(key+".on_failure", "\"remove\" with scheduler \"mh\" under cluster.ha = \"bgp\": removing and re-adding a destination reorders the kernel's list, from which mh builds its table, so directors that saw different failures would send the same connection to different backends; use on_failure = \"quiesce\" (the default for mh: weight 0, the table stays)")
	}
	if s.Persistence.Duration > 0 {
		c.errorf(key+".persistence", "with a tcp service under cluster.ha = \"bgp\": each director makes its persistence templates from the connections it sees, so two directors can send one client to two backends; mh with mh_port = false already sends every connection of a client to one backend on every director")
	}
}

// mhKeys warns about mh_port and mh_fallback on a service that does not
// use mh.
func (c *checker) mhKeys() {
	for i, s := range c.inv.Services {
		if s.UsesMH() {
			continue
		}
		for _, k := range []string{"mh_port", "mh_fallback"} {
			if key := indexKey("service", i) + "." + k; c.set(key) {
				c.warnf(key, "is read only with scheduler = \"mh\" (this service's is %q)", s.Scheduler)
			}
		}
	}
}
