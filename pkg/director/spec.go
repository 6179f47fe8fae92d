package director

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/reconcile"
)

// checkKey names one input a backend is checked for.
type checkKey struct {
	Input    string
	Pipeline string
}

func (k checkKey) String() string {
	if k.Pipeline == "" {
		return fmt.Sprintf("input %q", k.Input)
	}
	return fmt.Sprintf("input %q in pipeline %q", k.Input, k.Pipeline)
}

// checkSpec is what one backend is checked for. When services sharing an
// input set different rise or fall, the smallest wins: the input's state
// is one, and the faster reaction is the safer one for a log stream.
type checkSpec struct {
	checkKey
	Rise, Fall int
	// Load: some service using the input has weights = "load", so its
	// verdict carries a load weight.
	Load bool
}

// backendSpec is one Logstash host this director checks.
type backendSpec struct {
	Name    string
	Address netip.Addr
	APIPort int
	// Interval is the shortest interval of the services using it; Timeout
	// bounds each check (inventory.DirectorCheckTimeout).
	Interval time.Duration
	Timeout  time.Duration
	Checks   []checkSpec
}

// pipeline is the narrowest pipeline that covers every check: the one
// pipeline they all name, else "" (all pipelines, one request on 6.0+).
func (b *backendSpec) pipeline() string {
	p := b.Checks[0].Pipeline
	for _, c := range b.Checks[1:] {
		if c.Pipeline != p {
			return ""
		}
	}
	return p
}

// member is one destination of a service: the backend and the input that
// decide whether it is in the table.
type member struct {
	Backend     string
	Check       checkKey
	Destination ipvs.Destination
}

// serviceSpec is one IPVS service with what decides its destinations.
type serviceSpec struct {
	Name    string
	Key     ipvs.ServiceKey
	Service ipvs.Service
	InputID string
	Quiesce bool // on_failure = "quiesce": weight 0 instead of removal
	KeepAll bool // all_down = "keep"
	Load    bool // weights = "load": destination weights follow the load
	UDP     bool // a drained UDP destination is removed, a TCP one set to weight 0
	// Ordered: the scheduler builds its table from the list order (mh,
	// sh), so a destination is added only through reconcile, which keeps
	// the order canonical.
	Ordered bool
	// Pinned: mh with on_failure = "quiesce": every member stays in the
	// table whatever its health or drain; those out of service are at
	// weight 0, which keeps mh's table and lets mh-fallback move only
	// their flows.
	Pinned bool
	// Members are in the order of the service's destinations in the
	// desired table (by address and port), so that the adjusted table
	// is built in order.
	Members []member
	// entry is the service's index in spec.desired.
	entry     int
	Protocol  string
	Interval  time.Duration
	Rise      int
	Fall      int
	OnFailure string
	// VIP names the service's [[vip]]; MinHealthy is its announce
	// watermark (cluster.ha = "bgp").
	VIP        string
	MinHealthy int
}

// spec is the director's view of one inventory.
type spec struct {
	inv      *inventory.Inventory
	desired  reconcile.Table
	backends map[string]*backendSpec
	services []*serviceSpec
	// users lists, per backend and input, the services it decides.
	users map[string]map[checkKey][]*serviceSpec
}

// newSpec derives the director's work from a validated inventory: every
// director carries every service (as keepalived's virtual_server blocks
// do), so node only has to name a director.
func newSpec(inv *inventory.Inventory, node string) (*spec, error) {
	if !inv.UsesDirector() {
		return nil, fmt.Errorf("%s: cluster.ipvs is %q, so keepalived manages the virtual servers: hala director would fight it over the same table", inv.File, inv.Cluster.IPVS)
	}
	desired, err := reconcile.Desired(inv, node)
	if err != nil {
		return nil, err
	}
	sp := &spec{inv: inv, desired: desired, backends: map[string]*backendSpec{}, users: map[string]map[checkKey][]*serviceSpec{}}
	byName := map[string]int{}
	for i, e := range desired {
		byName[e.Name] = i
	}
	checks := map[string]map[checkKey]*checkSpec{}
	for _, s := range inv.Services {
		e := desired[byName[s.Name]]
		ss := &serviceSpec{
			Name: s.Name, entry: byName[s.Name], Key: e.Service.Key(), Service: e.Service, InputID: s.InputID,
			Quiesce: s.OnFailure == inventory.OnFailureQuiesce, KeepAll: s.AllDown == inventory.AllDownKeep,
			Load: s.Weights == inventory.WeightsLoad, UDP: s.Protocol == "udp",
			Protocol: s.Protocol, Interval: s.Interval.Duration, Rise: s.Rise, Fall: s.Fall, OnFailure: s.OnFailure,
			VIP: s.VIP, MinHealthy: s.MinHealthy,
			Ordered: reconcile.Ordered(s.Scheduler),
			Pinned:  s.UsesMH() && s.OnFailure == inventory.OnFailureQuiesce,
		}
		key := checkKey{Input: s.InputID, Pipeline: s.Pipeline}
		dests := map[netip.Addr]ipvs.Destination{}
		for _, d := range e.Destinations {
			dests[d.Address] = d
		}
		for _, l := range inv.Backends(s) {
			b := sp.backends[l.Name]
			if b == nil {
				b = &backendSpec{Name: l.Name, Address: l.Address, APIPort: l.APIPort, Interval: s.Interval.Duration}
				sp.backends[l.Name] = b
				checks[l.Name] = map[checkKey]*checkSpec{}
				sp.users[l.Name] = map[checkKey][]*serviceSpec{}
			}
			b.Interval = min(b.Interval, s.Interval.Duration)
			c := checks[l.Name][key]
			if c == nil {
				c = &checkSpec{checkKey: key, Rise: s.Rise, Fall: s.Fall}
				checks[l.Name][key] = c
			}
			c.Rise, c.Fall = min(c.Rise, s.Rise), min(c.Fall, s.Fall)
			c.Load = c.Load || s.Weights == inventory.WeightsLoad
			sp.users[l.Name][key] = append(sp.users[l.Name][key], ss)
			ss.Members = append(ss.Members, member{Backend: l.Name, Check: key, Destination: dests[l.Address]})
		}
		slices.SortFunc(ss.Members, func(a, b member) int { return a.Destination.Key().Compare(b.Destination.Key()) })
		sp.services = append(sp.services, ss)
	}
	for name, b := range sp.backends {
		for _, c := range checks[name] {
			b.Checks = append(b.Checks, *c)
		}
		slices.SortFunc(b.Checks, func(x, y checkSpec) int {
			if x.Input != y.Input {
				return cmpString(x.Input, y.Input)
			}
			return cmpString(x.Pipeline, y.Pipeline)
		})
		b.Timeout = inv.DirectorCheckTimeout(b.Interval)
	}
	return sp, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// backendNames returns the backends in name order.
func (sp *spec) backendNames() []string {
	names := make([]string, 0, len(sp.backends))
	for n := range sp.backends {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
