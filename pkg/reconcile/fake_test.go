package reconcile_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/inventory/inventorytest"
	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/reconcile"
)

// recorder wraps a Target and logs every call, so a test can assert which
// kernel requests were made: the fake below in unit tests, a real
// *ipvs.Handle in the integration tests. Entries is logged as "Entries",
// each request of a Batch that was attempted as call(r) ("AddService …").
type recorder struct {
	reconcile.Target
	calls []string
}

// writes returns the calls that change the table.
func (r *recorder) writes() []string {
	var w []string
	for _, c := range r.calls {
		if c != "Entries" {
			w = append(w, c)
		}
	}
	return w
}

func (r *recorder) reset() { r.calls = nil }

func (r *recorder) Entries(ctx context.Context) ([]ipvs.Entry, error) {
	r.calls = append(r.calls, "Entries")
	return r.Target.Entries(ctx)
}

func (r *recorder) Batch(ctx context.Context, reqs []ipvs.Request) []error {
	errs := r.Target.Batch(ctx, reqs)
	for i, req := range reqs {
		if !errors.Is(errs[i], ipvs.ErrNotAttempted) {
			r.calls = append(r.calls, call(req))
		}
	}
	return errs
}

// call names a request as the recorder logs it and fake.fail sees it:
// "AddService UDP 10.0.0.100:5514",
// "AddDestination UDP 10.0.0.100:5514 10.0.0.11:5514".
func call(r ipvs.Request) string {
	name := [...]string{
		ipvs.OpAddService:        "AddService",
		ipvs.OpUpdateService:     "UpdateService",
		ipvs.OpDeleteService:     "DeleteService",
		ipvs.OpAddDestination:    "AddDestination",
		ipvs.OpUpdateDestination: "UpdateDestination",
		ipvs.OpDeleteDestination: "DeleteDestination",
	}[r.Op]
	if r.Op >= ipvs.OpAddDestination {
		return name + " " + r.Service.Key().String() + " " + r.Destination.Key().String()
	}
	return name + " " + r.Service.Key().String()
}

// fake is an in-memory IPVS table that behaves like the kernel's for the
// requests reconcile makes: services keyed by protocol/address/port,
// destinations by address/port and listed newest first, the hashed flag set on every service, and
// errors for duplicates and missing objects. fail, when set, can make a
// request fail before it happens.
type fake struct {
	svcs  map[ipvs.ServiceKey]*fakeSvc
	order []ipvs.ServiceKey // kernel order: insertion, not sorted
	fail  func(call string) error
}

type fakeSvc struct {
	svc   ipvs.Service
	dests []ipvs.Destination
	// last is each destination's last non-zero weight, or the weight it
	// was added with: what mh builds its table from (the kernel's
	// dest->last_weight).
	last map[netip.AddrPort]int
}

// lastWeight returns the weight mh's table counts for destination d of
// the service at k.
func (f *fake) lastWeight(k ipvs.ServiceKey, d netip.AddrPort) int { return f.svcs[k].last[d] }

func newFake() *fake { return &fake{svcs: map[ipvs.ServiceKey]*fakeSvc{}} }

// Entries returns every service, in the kernel's order, with the hashed
// flag set as the kernel reports it.
func (f *fake) Entries(ctx context.Context) ([]ipvs.Entry, error) {
	var out []ipvs.Entry
	for _, k := range f.order {
		fs := f.svcs[k]
		s := fs.svc
		s.Flags |= ipvs.FlagHashed
		out = append(out, ipvs.Entry{Service: s, Destinations: slices.Clone(fs.dests)})
	}
	return out, nil
}

// Batch makes reqs in order and stops after the first that fails, or
// before the first after ctx is done (failing it with ctx's error): the
// rest are ipvs.ErrNotAttempted.
func (f *fake) Batch(ctx context.Context, reqs []ipvs.Request) []error {
	errs := make([]error, len(reqs))
	for i := range errs {
		errs[i] = ipvs.ErrNotAttempted
	}
	for i, r := range reqs {
		if errs[i] = ctx.Err(); errs[i] != nil {
			break
		}
		if errs[i] = f.do(r); errs[i] != nil {
			break
		}
	}
	return errs
}

// do makes one request, as the kernel would.
func (f *fake) do(r ipvs.Request) error {
	if f.fail != nil {
		if err := f.fail(call(r)); err != nil {
			return err
		}
	}
	s, d := r.Service, r.Destination
	switch r.Op {
	case ipvs.OpAddService:
		if err := s.Validate(); err != nil {
			return err
		}
		if _, ok := f.svcs[s.Key()]; ok {
			return ipvs.ErrExists
		}
		s.Stats = ipvs.Stats{}
		f.svcs[s.Key()] = &fakeSvc{svc: s}
		f.order = append(f.order, s.Key())
		return nil
	case ipvs.OpUpdateService:
		fs, ok := f.svcs[s.Key()]
		if !ok {
			return ipvs.ErrNotFound
		}
		s.Stats = fs.svc.Stats // counters survive an update
		fs.svc = s
		return nil
	case ipvs.OpDeleteService:
		if _, ok := f.svcs[s.Key()]; !ok {
			return ipvs.ErrNotFound
		}
		delete(f.svcs, s.Key())
		f.order = slices.DeleteFunc(f.order, func(k ipvs.ServiceKey) bool { return k == s.Key() })
		return nil
	}
	if r.Op == ipvs.OpAddDestination {
		if err := d.Validate(); err != nil {
			return err
		}
	}
	fs, ok := f.svcs[s.Key()]
	if !ok {
		return ipvs.ErrNotFound
	}
	i := slices.IndexFunc(fs.dests, func(o ipvs.Destination) bool { return o.Key() == d.Key() })
	if fs.last == nil {
		fs.last = map[netip.AddrPort]int{}
	}
	if (r.Op == ipvs.OpAddDestination && i < 0) || (r.Op == ipvs.OpUpdateDestination && i >= 0 && d.Weight != 0) {
		fs.last[d.Key()] = d.Weight
	}
	switch {
	case r.Op == ipvs.OpAddDestination && i >= 0:
		return ipvs.ErrExists
	case r.Op == ipvs.OpAddDestination:
		// At the head, as the kernel's list_add_rcu does.
		fs.dests = slices.Insert(fs.dests, 0, d)
	case i < 0:
		return ipvs.ErrNotFound
	case r.Op == ipvs.OpUpdateDestination:
		d.Stats, d.ActiveConns, d.InactiveConns = fs.dests[i].Stats, fs.dests[i].ActiveConns, fs.dests[i].InactiveConns
		fs.dests[i] = d
	default:
		fs.dests = slices.Delete(fs.dests, i, i+1)
	}
	return nil
}

// dest returns the destination at d of the service at k, to edit it in
// place as another tool would.
func (f *fake) dest(k ipvs.ServiceKey, d netip.AddrPort) *ipvs.Destination {
	fs := f.svcs[k]
	return &fs.dests[slices.IndexFunc(fs.dests, func(o ipvs.Destination) bool { return o.Key() == d })]
}

// put adds a service with destinations straight into the fake, as another
// tool (or an earlier run) would have.
func (f *fake) put(s ipvs.Service, dests ...ipvs.Destination) {
	f.svcs[s.Key()] = &fakeSvc{svc: s, dests: dests}
	f.order = append(f.order, s.Key())
}

// parseInv parses an inventory written in the test.
func parseInv(t testing.TB, text string) *inventory.Inventory {
	t.Helper()
	inv, err := inventory.Parse("test.toml", []byte(text))
	if err != nil {
		t.Fatalf("inventory: %v", err)
	}
	return inv
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// baseInventory is inventorytest.Base without the firewall (its IPv4
// sources would conflict with the tests' IPv6 edits), syslog-udp's
// scheduling spelt out and a second service, TCP "beats": two backends
// behind two services on one VIP; tests append or replace lines to vary it.
var baseInventory = inventorytest.Edit(inventorytest.Base,
	"one_packet = true\n\n[firewall]\nlog_sources = [\"10.0.0.0/24\"]\n",
	"scheduler = \"rr\"\nforwarding = \"nat\"\none_packet = true\n") + `
[[service]]
name = "beats"
vip = "logs"
port = 5044
protocol = "tcp"
input_id = "beats"
scheduler = "wlc"
forwarding = "nat"
persistence = "300s"
weight = 3
`

func mustAP(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func netipAddrPortV6Zero() netip.AddrPort { return netip.AddrPortFrom(netip.IPv6Unspecified(), 0) }
