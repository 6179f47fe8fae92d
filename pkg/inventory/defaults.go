package inventory

import (
	"strings"
	"time"
)

// Defaults of optional keys. docs/inventory.md lists them.
const (
	DefaultAdvertInterval = time.Second
	DefaultAPIPort        = 9600
	DefaultAPIScheme      = "http"
	DefaultCheckTimeout   = 2 * time.Second
	DefaultHalaPath       = "/usr/bin/hala"
	DefaultScriptUser     = "keepalived_script"
	DefaultScheduler      = "rr"
	DefaultForwarding     = "nat"
	DefaultDelayLoop      = 5 * time.Second
	DefaultWeight         = 1
	DefaultWeights        = WeightsStatic
	DefaultZone           = "public"

	DefaultIPVS              = IPVSKeepalived
	DefaultReconcileInterval = 10 * time.Second
	// DefaultMetricsAddress is on loopback: the metrics say which backends
	// are down and why, which is not for every network.
	DefaultMetricsAddress = "127.0.0.1:9610"
	DefaultInterval       = time.Second
	DefaultRise           = 2
	DefaultFall           = 2
	DefaultOnFailure      = OnFailureRemove
	DefaultAllDown        = AllDownKeep
)

// Values of cluster.ipvs, service.on_failure and service.all_down.
const (
	IPVSKeepalived   = "keepalived"
	IPVSDirector     = "director"
	OnFailureRemove  = "remove"
	OnFailureQuiesce = "quiesce"
	AllDownKeep      = "keep"
	AllDownRemove    = "remove"
)

// SetDefaults fills every optional field that is unset with its effective
// value and lower-cases protocol, scheduler, forwarding, weights and
// api_scheme.
// Load and Parse call it; call it yourself only for an Inventory built in
// Go, then Validate. It is idempotent.
//
// A key written in the file with a zero value (api_port = 0, weight = 0)
// keeps it, so that validation can reject it or, for weight, honour it.
func (inv *Inventory) SetDefaults() {
	set := inv.pos.has
	c := &inv.Cluster
	if c.AdvertInterval.Duration == 0 && !set("cluster.advert_interval") {
		c.AdvertInterval.Duration = DefaultAdvertInterval
	}
	if c.APIPort == 0 && !set("cluster.api_port") {
		c.APIPort = DefaultAPIPort
	}
	c.APIScheme = strings.ToLower(c.APIScheme)
	if c.APIScheme == "" {
		c.APIScheme = DefaultAPIScheme
	}
	if c.CheckTimeout.Duration == 0 && !set("cluster.check_timeout") {
		c.CheckTimeout.Duration = DefaultCheckTimeout
	}
	if c.HalaPath == "" {
		c.HalaPath = DefaultHalaPath
	}
	if c.ScriptUser == "" {
		c.ScriptUser = DefaultScriptUser
	}

	for i := range inv.Directors {
		d := &inv.Directors[i]
		if d.Interface == "" {
			d.Interface = c.Interface
		}
	}
	for i := range inv.Logstash {
		l := &inv.Logstash[i]
		if l.APIPort == 0 && !set(indexKey("logstash", i)+".api_port") {
			l.APIPort = c.APIPort
		}
	}
	for i := range inv.VIPs {
		v := &inv.VIPs[i]
		if v.Master == "" && len(inv.Directors) > 0 {
			v.Master = inv.Directors[i%len(inv.Directors)].Name
		}
		inv.setVIPVRRPDefaults(i)
	}
	for i := range inv.Services {
		s := &inv.Services[i]
		key := indexKey("service", i)
		s.Protocol = strings.ToLower(s.Protocol)
		s.Scheduler = strings.ToLower(s.Scheduler)
		if s.Scheduler == "" {
			s.Scheduler = DefaultScheduler
		}
		s.Forwarding = strings.ToLower(s.Forwarding)
		if s.Forwarding == "" {
			s.Forwarding = DefaultForwarding
		}
		if s.DelayLoop.Duration == 0 && !set(key+".delay_loop") {
			s.DelayLoop.Duration = DefaultDelayLoop
		}
		if len(s.Backends) == 0 && !set(key+".backends") {
			s.Backends = make([]string, 0, len(inv.Logstash))
			seen := map[string]bool{}
			for _, l := range inv.Logstash {
				if !seen[l.Name] { // a duplicate name is a validation error
					seen[l.Name] = true
					s.Backends = append(s.Backends, l.Name)
				}
			}
		}
		if s.BackendPort == 0 && !set(key+".backend_port") {
			s.BackendPort = s.Port
		}
		if s.Weight == 0 && !set(key+".weight") {
			s.Weight = DefaultWeight
		}
		s.Weights = strings.ToLower(s.Weights)
		if s.Weights == "" {
			s.Weights = DefaultWeights
		}
	}
	inv.setDirectorDefaults()
	inv.setBGPDefaults()
	inv.setMHDefaults()
	if inv.Firewall.Zone == "" {
		inv.Firewall.Zone = DefaultZone
	}
	inv.setMonitoringDefaults()
}

// MiscTimeout is keepalived's misc_timeout for every MISC_CHECK: the check
// timeout rounded up to whole seconds, plus one second for the process to
// start and exit. delay_loop must be longer.
func (inv *Inventory) MiscTimeout() time.Duration {
	t := inv.Cluster.CheckTimeout.Duration
	secs := (t + time.Second - 1) / time.Second
	return (secs + 1) * time.Second
}

// setVIPVRRPDefaults gives VIP i the cluster's advert interval and
// password unless it sets its own (vrrp_auth_pass = "" is its own: no
// authentication).
func (inv *Inventory) setVIPVRRPDefaults(i int) {
	v, key := &inv.VIPs[i], indexKey("vip", i)
	if v.AdvertInterval.Duration == 0 && !inv.pos.has(key+".advert_interval") {
		v.AdvertInterval = inv.Cluster.AdvertInterval
	}
	if v.VRRPAuthPass == "" && !inv.pos.has(key+".vrrp_auth_pass") {
		v.VRRPAuthPass = inv.Cluster.VRRPAuthPass
	}
}
