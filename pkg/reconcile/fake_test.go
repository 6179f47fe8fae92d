package reconcile_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/reconcile"
)

// recorder wraps a Target and logs every call, so a test can assert which
// kernel calls were made: the fake below in unit tests, a real *ipvs.Handle
// in the integration tests.
type recorder struct {
	reconcile.Target
	calls []string
}

func (r *recorder) log(format string, args ...any) {
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
}

// writes returns the calls that change the table.
func (r *recorder) writes() []string {
	var w []string
	for _, c := range r.calls {
		if !strings.HasPrefix(c, "Services") && !strings.HasPrefix(c, "Destinations") && c != "Entries" {
			w = append(w, c)
		}
	}
	return w
}

func (r *recorder) reset() { r.calls = nil }

func (r *recorder) Services(ctx context.Context) ([]ipvs.Service, error) {
	r.log("Services")
	return r.Target.Services(ctx)
}

func (r *recorder) Destinations(ctx context.Context, s ipvs.Service) ([]ipvs.Destination, error) {
	r.log("Destinations %s", s.Key())
	return r.Target.Destinations(ctx, s)
}

func (r *recorder) AddService(ctx context.Context, s ipvs.Service) error {
	r.log("AddService %s", s.Key())
	return r.Target.AddService(ctx, s)
}

func (r *recorder) UpdateService(ctx context.Context, s ipvs.Service) error {
	r.log("UpdateService %s", s.Key())
	return r.Target.UpdateService(ctx, s)
}

func (r *recorder) DeleteService(ctx context.Context, s ipvs.Service) error {
	r.log("DeleteService %s", s.Key())
	return r.Target.DeleteService(ctx, s)
}

func (r *recorder) AddDestination(ctx context.Context, s ipvs.Service, d ipvs.Destination) error {
	r.log("AddDestination %s %s", s.Key(), d.Key())
	return r.Target.AddDestination(ctx, s, d)
}

func (r *recorder) UpdateDestination(ctx context.Context, s ipvs.Service, d ipvs.Destination) error {
	r.log("UpdateDestination %s %s", s.Key(), d.Key())
	return r.Target.UpdateDestination(ctx, s, d)
}

func (r *recorder) DeleteDestination(ctx context.Context, s ipvs.Service, d ipvs.Destination) error {
	r.log("DeleteDestination %s %s", s.Key(), d.Key())
	return r.Target.DeleteDestination(ctx, s, d)
}

// fake is an in-memory IPVS table that behaves like the kernel's for the
// calls reconcile makes: services keyed by protocol/address/port,
// destinations by address/port, the hashed flag set on every service, and
// errors for duplicates and missing objects. fail, when set, can make a
// write fail before it happens.
type fake struct {
	svcs  map[ipvs.ServiceKey]*fakeSvc
	order []ipvs.ServiceKey // kernel order: insertion, not sorted
	fail  func(call string) error
}

type fakeSvc struct {
	svc   ipvs.Service
	dests []ipvs.Destination
}

func newFake() *fake { return &fake{svcs: map[ipvs.ServiceKey]*fakeSvc{}} }

func (f *fake) check(call string) error {
	if f.fail != nil {
		return f.fail(call)
	}
	return nil
}

func (f *fake) Services(ctx context.Context) ([]ipvs.Service, error) {
	var out []ipvs.Service
	for _, k := range f.order {
		s := f.svcs[k].svc
		s.Flags |= ipvs.FlagHashed // as the kernel reports it
		out = append(out, s)
	}
	return out, nil
}

func (f *fake) Destinations(ctx context.Context, s ipvs.Service) ([]ipvs.Destination, error) {
	fs, ok := f.svcs[s.Key()]
	if !ok {
		return nil, ipvs.ErrNotFound
	}
	return slices.Clone(fs.dests), nil
}

func (f *fake) AddService(ctx context.Context, s ipvs.Service) error {
	if err := f.check("AddService " + s.Key().String()); err != nil {
		return err
	}
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
}

func (f *fake) UpdateService(ctx context.Context, s ipvs.Service) error {
	if err := f.check("UpdateService " + s.Key().String()); err != nil {
		return err
	}
	fs, ok := f.svcs[s.Key()]
	if !ok {
		return ipvs.ErrNotFound
	}
	s.Stats = fs.svc.Stats // counters survive an update
	fs.svc = s
	return nil
}

func (f *fake) DeleteService(ctx context.Context, s ipvs.Service) error {
	if err := f.check("DeleteService " + s.Key().String()); err != nil {
		return err
	}
	if _, ok := f.svcs[s.Key()]; !ok {
		return ipvs.ErrNotFound
	}
	delete(f.svcs, s.Key())
	f.order = slices.DeleteFunc(f.order, func(k ipvs.ServiceKey) bool { return k == s.Key() })
	return nil
}

func (f *fake) AddDestination(ctx context.Context, s ipvs.Service, d ipvs.Destination) error {
	if err := f.check("AddDestination " + s.Key().String() + " " + d.Key().String()); err != nil {
		return err
	}
	if err := d.Validate(); err != nil {
		return err
	}
	fs, ok := f.svcs[s.Key()]
	if !ok {
		return ipvs.ErrNotFound
	}
	if slices.ContainsFunc(fs.dests, func(o ipvs.Destination) bool { return o.Key() == d.Key() }) {
		return ipvs.ErrExists
	}
	fs.dests = append(fs.dests, d)
	return nil
}

func (f *fake) UpdateDestination(ctx context.Context, s ipvs.Service, d ipvs.Destination) error {
	if err := f.check("UpdateDestination " + s.Key().String() + " " + d.Key().String()); err != nil {
		return err
	}
	fs, ok := f.svcs[s.Key()]
	if !ok {
		return ipvs.ErrNotFound
	}
	i := slices.IndexFunc(fs.dests, func(o ipvs.Destination) bool { return o.Key() == d.Key() })
	if i < 0 {
		return ipvs.ErrNotFound
	}
	d.Stats, d.ActiveConns, d.InactiveConns = fs.dests[i].Stats, fs.dests[i].ActiveConns, fs.dests[i].InactiveConns
	fs.dests[i] = d
	return nil
}

func (f *fake) DeleteDestination(ctx context.Context, s ipvs.Service, d ipvs.Destination) error {
	if err := f.check("DeleteDestination " + s.Key().String() + " " + d.Key().String()); err != nil {
		return err
	}
	fs, ok := f.svcs[s.Key()]
	if !ok {
		return ipvs.ErrNotFound
	}
	n := len(fs.dests)
	fs.dests = slices.DeleteFunc(fs.dests, func(o ipvs.Destination) bool { return o.Key() == d.Key() })
	if len(fs.dests) == n {
		return ipvs.ErrNotFound
	}
	return nil
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

// baseInventory is two backends behind two services on one VIP; tests
// append or replace lines to vary it.
const baseInventory = `
[cluster]
name = "t"
interface = "eth0"
vrrp_auth_pass = "secret42"

[[director]]
name = "d1"
address = "10.0.0.1"

[[director]]
name = "d2"
address = "10.0.0.2"

[[logstash]]
name = "l1"
address = "10.0.0.11"

[[logstash]]
name = "l2"
address = "10.0.0.12"

[[vip]]
name = "logs"
address = "10.0.0.100/24"
router_id = 1

[[service]]
name = "syslog-udp"
vip = "logs"
port = 5514
protocol = "udp"
input_id = "udp-5514"
scheduler = "rr"
forwarding = "nat"
one_packet = true

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
