package reconcile_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/reconcile"
)

// mhInventory is one TCP service scheduled by mh with the given backends
// (names of l1..l4, at 10.0.0.11..14).
func mhInventory(backends ...string) string {
	return `
[cluster]
name = "t"
interface = "eth0"
vrrp_auth_pass = "secret42"

[[director]]
name = "d1"
address = "10.0.0.1"

[[logstash]]
name = "l1"
address = "10.0.0.11"
[[logstash]]
name = "l2"
address = "10.0.0.12"
[[logstash]]
name = "l3"
address = "10.0.0.13"
[[logstash]]
name = "l4"
address = "10.0.0.14"

[[vip]]
name = "logs"
address = "10.0.0.100/24"
router_id = 1

[[service]]
name = "syslog-tcp"
vip = "logs"
port = 5140
protocol = "tcp"
input_id = "tcp"
scheduler = "mh"
forwarding = "dr"
backends = ["` + strings.Join(backends, `", "`) + `"]
`
}

var mhKey = ipvs.ServiceKey{Protocol: ipvs.TCP, AddrPort: mustAP("10.0.0.100:5140")}

// kernelList returns the service's destinations as the kernel lists them
// (newest first), with their weights: the input mh builds its table from.
func kernelList(t *testing.T, f *fake) []string {
	t.Helper()
	fs := f.svcs[mhKey]
	if fs == nil {
		t.Fatal("no mh service in the table")
	}
	var out []string
	for _, d := range fs.dests {
		out = append(out, d.Key().String()+" w"+strconv.Itoa(d.Weight)+" last"+strconv.Itoa(f.lastWeight(mhKey, d.Key())))
	}
	return out
}

func dst(ap string, w int) ipvs.Destination {
	a := mustAP(ap)
	return ipvs.Destination{Address: a.Addr(), Port: a.Port(), Forwarding: ipvs.Route, Weight: w}
}

// TestOrderedDestinationsWhateverTheHistory brings directors with
// different histories to the same inventory: each must end with the same
// kernel list (order and weights), which is all mh's table depends on.
func TestOrderedDestinationsWhateverTheHistory(t *testing.T) {
	all := mhInventory("l1", "l2", "l3", "l4")
	svc := ipvs.Service{Protocol: ipvs.TCP, Address: addr("10.0.0.100"), Port: 5140, Scheduler: "mh",
		Flags: ipvs.FlagMHFallback | ipvs.FlagMHPort, Netmask: 0xffffffff}
	histories := []struct {
		name string
		run  func(t *testing.T, f *fake, opts reconcile.Options)
	}{
		{"fresh start", func(t *testing.T, f *fake, opts reconcile.Options) {}},
		{"reload adding backends below others", func(t *testing.T, f *fake, opts reconcile.Options) {
			converge(t, mhInventory("l3", "l4"), f, opts)
		}},
		{"reload adding and removing", func(t *testing.T, f *fake, opts reconcile.Options) {
			converge(t, mhInventory("l1", "l2", "l4"), f, opts)
			converge(t, mhInventory("l2", "l3"), f, opts)
		}},
		{"a backend removed and re-added by hand", func(t *testing.T, f *fake, opts reconcile.Options) {
			converge(t, all, f, opts)
			for _, r := range []ipvs.Request{
				{Op: ipvs.OpDeleteDestination, Service: svc, Destination: dst("10.0.0.12:5140", 1)},
				{Op: ipvs.OpAddDestination, Service: svc, Destination: dst("10.0.0.12:5140", 1)},
			} {
				if err := f.do(r); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"another tool's order", func(t *testing.T, f *fake, opts reconcile.Options) {
			f.put(svc, dst("10.0.0.13:5140", 1), dst("10.0.0.11:5140", 1), dst("10.0.0.14:5140", 1), dst("10.0.0.12:5140", 1))
			opts.Adopt = true
			plan := prepare(t, all, f, opts)
			plan.AdoptConfirmed = true
			if _, err := reconcile.Execute(ctx, plan, f, opts.State(), nil); err != nil {
				t.Fatal(err)
			}
		}},
	}
	var want []string
	for _, h := range histories {
		t.Run(h.name, func(t *testing.T) {
			f := newFake()
			opts := tempState(t)
			h.run(t, f, opts)
			converge(t, all, f, opts)
			got := kernelList(t, f)
			if want == nil {
				want = got
				if w := []string{"10.0.0.14:5140 w1 last1", "10.0.0.13:5140 w1 last1", "10.0.0.12:5140 w1 last1", "10.0.0.11:5140 w1 last1"}; !slices.Equal(got, w) {
					t.Fatalf("fresh start lists %q, want %q (added in ascending order, listed newest first)", got, w)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("kernel list %q, want %q as after a fresh start", got, want)
			}
			if p := prepare(t, all, f, opts); !p.Empty() {
				t.Errorf("not converged:\n%s", planText(t, p))
			}
		})
	}
}

// TestOrderedInsertionPlan shows what a reload adding a backend below
// existing ones plans: the ones above it are re-added after it, each
// deleted right before its re-add; nothing below it is touched.
func TestOrderedInsertionPlan(t *testing.T) {
	f := newFake()
	opts := tempState(t)
	converge(t, mhInventory("l1", "l3", "l4"), f, opts)
	plan := prepare(t, mhInventory("l1", "l2", "l3", "l4"), f, opts)
	want := `+ add destination syslog-tcp TCP 10.0.0.100:5140 -> 10.0.0.12:5140 Route weight 1
- delete destination syslog-tcp TCP 10.0.0.100:5140 -> 10.0.0.13:5140 (re-added in order: mh builds its table in list order)
+ add destination syslog-tcp TCP 10.0.0.100:5140 -> 10.0.0.13:5140 Route weight 1 (re-added in order: mh builds its table in list order)
- delete destination syslog-tcp TCP 10.0.0.100:5140 -> 10.0.0.14:5140 (re-added in order: mh builds its table in list order)
+ add destination syslog-tcp TCP 10.0.0.100:5140 -> 10.0.0.14:5140 Route weight 1 (re-added in order: mh builds its table in list order)
Plan: 3 to add, 0 to update, 2 to delete.
`
	if got := planText(t, plan); got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
	if b, err := plan.Changes[1].MarshalJSON(); err != nil || !strings.Contains(string(b), `"reorder":true`) {
		t.Errorf("a re-add's JSON %s (%v) does not say reorder", b, err)
	}
	// A backend added above every other is one add.
	f = newFake()
	converge(t, mhInventory("l1", "l2"), f, opts)
	plan = prepare(t, mhInventory("l1", "l2", "l4"), f, opts)
	if a, u, d := plan.Counts(); a != 1 || u != 0 || d != 0 {
		t.Errorf("adding the highest backend: %d adds, %d updates, %d deletes, want 1 add:\n%s", a, u, d, planText(t, plan))
	}
}

// TestQuiescedDestinationKeepsItsTableWeight: a director that starts while
// a backend fails must still put it in mh's table, as one that saw it
// healthy first and then set it to weight 0: it is added at the service's
// weight, then set to 0.
func TestQuiescedDestinationKeepsItsTableWeight(t *testing.T) {
	f := newFake()
	opts := tempState(t)
	opts.Adjust = func(tb reconcile.Table) reconcile.Table {
		for i := range tb[0].Destinations {
			if tb[0].Destinations[i].Address == addr("10.0.0.12") {
				tb[0].Destinations[i].Weight = 0
			}
		}
		return tb
	}
	res, err := reconcile.Run(ctx, parseInv(t, mhInventory("l1", "l2", "l3")), f, opts)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range res.Applied {
		if c.Destination != nil && c.Destination.Address == addr("10.0.0.12") {
			lines = append(lines, c.String())
		}
	}
	want := []string{
		"+ add destination syslog-tcp TCP 10.0.0.100:5140 -> 10.0.0.12:5140 Route weight 1",
		"~ update destination syslog-tcp TCP 10.0.0.100:5140 -> 10.0.0.12:5140: weight 1 -> 0",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("changes of 10.0.0.12: %q, want %q", lines, want)
	}
	if got := kernelList(t, f); !slices.Equal(got, []string{"10.0.0.13:5140 w1 last1", "10.0.0.12:5140 w0 last1", "10.0.0.11:5140 w1 last1"}) {
		t.Errorf("kernel list %q: want 10.0.0.12 at weight 0 with table weight 1, in order", got)
	}
	// Converged: the next run changes nothing.
	res, err = reconcile.Run(ctx, parseInv(t, mhInventory("l1", "l2", "l3")), f, opts)
	if err != nil || len(res.Applied) != 0 {
		t.Errorf("second run applied %v (err %v), want nothing", res.Applied, err)
	}
}

// TestUnorderedSchedulersKeepTheirPlan: rr ignores the list order, so a
// reload adding a backend below others is one add, as before.
func TestUnorderedSchedulersKeepTheirPlan(t *testing.T) {
	f := newFake()
	opts := tempState(t)
	rr := func(b ...string) string {
		return strings.Replace(mhInventory(b...), `scheduler = "mh"`, `scheduler = "rr"`, 1)
	}
	converge(t, rr("l1", "l3"), f, opts)
	plan := prepare(t, rr("l1", "l2", "l3"), f, opts)
	if a, u, d := plan.Counts(); a != 1 || u != 0 || d != 0 {
		t.Errorf("%d adds, %d updates, %d deletes, want 1 add:\n%s", a, u, d, planText(t, plan))
	}
}
