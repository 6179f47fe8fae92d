package reconcile_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/reconcile"
)

var ctx = context.Background()

// converge runs plan+apply the way hala ipvs apply does and returns the plan.
func converge(t *testing.T, inv string, target reconcile.Target, opts reconcile.Options) reconcile.Plan {
	t.Helper()
	plan, err := reconcile.Prepare(ctx, parseInv(t, inv), target, opts)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if _, err := reconcile.Execute(ctx, plan, target, opts.State(), nil); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return plan
}

func prepare(t *testing.T, inv string, target reconcile.Target, opts reconcile.Options) reconcile.Plan {
	t.Helper()
	plan, err := reconcile.Prepare(ctx, parseInv(t, inv), target, opts)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	return plan
}

func planText(t *testing.T, p reconcile.Plan) string {
	t.Helper()
	var b strings.Builder
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func tempState(t *testing.T) reconcile.Options {
	return reconcile.Options{StatePath: filepath.Join(t.TempDir(), "state", "ipvs-owned.json")}
}

func TestApplyFromEmptyThenNoop(t *testing.T) {
	f := newFake()
	rec := &recorder{Target: f}
	opts := tempState(t)

	plan := prepare(t, baseInventory, rec, opts)
	want := `+ add service beats TCP 10.0.0.100:5044 wlc persistent 300
+ add destination beats TCP 10.0.0.100:5044 -> 10.0.0.11:5044 Masq weight 3
+ add destination beats TCP 10.0.0.100:5044 -> 10.0.0.12:5044 Masq weight 3
+ add service syslog-udp UDP 10.0.0.100:5514 rr ops
+ add destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.11:5514 Masq weight 1
+ add destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.12:5514 Masq weight 1
Plan: 6 to add, 0 to update, 0 to delete.
`
	if got := planText(t, plan); got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
	var shell []string
	for _, c := range plan.Changes {
		shell = append(shell, c.Shell())
	}
	wantShell := []string{
		"ipvsadm -A -t 10.0.0.100:5044 -s wlc -p 300",
		"ipvsadm -a -t 10.0.0.100:5044 -r 10.0.0.11:5044 -m -w 3",
		"ipvsadm -a -t 10.0.0.100:5044 -r 10.0.0.12:5044 -m -w 3",
		"ipvsadm -A -u 10.0.0.100:5514 -s rr -o",
		"ipvsadm -a -u 10.0.0.100:5514 -r 10.0.0.11:5514 -m -w 1",
		"ipvsadm -a -u 10.0.0.100:5514 -r 10.0.0.12:5514 -m -w 1",
	}
	if !slices.Equal(shell, wantShell) {
		t.Errorf("shell equivalents:\n%s\nwant:\n%s", strings.Join(shell, "\n"), strings.Join(wantShell, "\n"))
	}

	rec.reset()
	var progressed []string
	applied, err := reconcile.Execute(ctx, plan, rec, opts.State(), func(c reconcile.Change) { progressed = append(progressed, c.String()) })
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 6 || len(progressed) != 6 {
		t.Errorf("applied %d, progress reported %d; want 6 each", len(applied), len(progressed))
	}
	wantCalls := []string{
		"AddService TCP 10.0.0.100:5044",
		"AddDestination TCP 10.0.0.100:5044 10.0.0.11:5044",
		"AddDestination TCP 10.0.0.100:5044 10.0.0.12:5044",
		"AddService UDP 10.0.0.100:5514",
		"AddDestination UDP 10.0.0.100:5514 10.0.0.11:5514",
		"AddDestination UDP 10.0.0.100:5514 10.0.0.12:5514",
	}
	if !slices.Equal(rec.calls, wantCalls) {
		t.Errorf("apply made calls:\n%s\nwant exactly the plan:\n%s", strings.Join(rec.calls, "\n"), strings.Join(wantCalls, "\n"))
	}

	// Second run: the kernel reports the hashed flag and the table is in
	// its own order; still nothing to do and not a single write.
	rec.reset()
	plan = prepare(t, baseInventory, rec, opts)
	if !plan.Empty() {
		t.Fatalf("second plan not empty:\n%s", planText(t, plan))
	}
	if got := planText(t, plan); got != "No changes: the IPVS table matches the inventory.\n" {
		t.Errorf("empty plan text = %q", got)
	}
	if _, err := reconcile.Execute(ctx, plan, rec, opts.State(), nil); err != nil {
		t.Fatal(err)
	}
	if w := rec.writes(); len(w) != 0 {
		t.Errorf("no-op apply wrote: %v", w)
	}
}

func TestDesiredIgnoresNodeAndReadsOnlyTheInventory(t *testing.T) {
	inv := parseInv(t, baseInventory)
	d1, err := reconcile.Desired(inv, "d1")
	if err != nil {
		t.Fatal(err)
	}
	d2, err := reconcile.Desired(inv, "d2")
	if err != nil {
		t.Fatal(err)
	}
	any, err := reconcile.Desired(inv, "")
	if err != nil {
		t.Fatal(err)
	}
	j1, _ := json.Marshal(d1)
	j2, _ := json.Marshal(d2)
	j3, _ := json.Marshal(any)
	if string(j1) != string(j2) || string(j1) != string(j3) {
		t.Errorf("directors get different tables:\n%s\n%s\n%s", j1, j2, j3)
	}
	if _, err := reconcile.Desired(inv, "l1"); err == nil || !strings.Contains(err.Error(), "d1, d2") {
		t.Errorf("unknown node: err = %v, want one naming the directors", err)
	}

	udp := any[1].Service
	if udp.Flags != ipvs.FlagOnePacket || udp.Netmask != 0xffffffff || udp.Timeout != 0 {
		t.Errorf("udp service = %+v, want ops, netmask 0xffffffff, no timeout", udp)
	}
	tcp := any[0].Service
	if tcp.Flags != ipvs.FlagPersistent || tcp.Timeout != 300 || tcp.Scheduler != "wlc" {
		t.Errorf("tcp service = %+v, want persistent 300 wlc", tcp)
	}
}

func TestDesiredVariants(t *testing.T) {
	inv := strings.Replace(baseInventory, `persistence = "300s"`, `persistence = "2m"
backends = ["l2"]
backend_port = 15044`, 1)
	inv = strings.Replace(inv, "forwarding = \"nat\"\none_packet", "forwarding = \"dr\"\none_packet", 1)
	table, err := reconcile.Desired(parseInv(t, inv), "")
	if err != nil {
		t.Fatal(err)
	}
	e := table[0]
	if e.Service.Timeout != 120 {
		t.Errorf("persistence 2m → timeout %d, want 120", e.Service.Timeout)
	}
	if len(e.Destinations) != 1 || e.Destinations[0].Key().String() != "10.0.0.12:15044" || e.Destinations[0].Forwarding != ipvs.Masq {
		t.Errorf("destinations = %v, want only l2 on 15044 with Masq", e.Destinations)
	}
	if d := table[1].Destinations; len(d) != 2 || d[0].Forwarding != ipvs.Route || d[1].Forwarding != ipvs.Route {
		t.Errorf("dr service destinations = %v, want both with Route", d)
	}

	v6 := strings.Replace(baseInventory, `address = "10.0.0.100/24"`, `address = "2001:db8::100/64"`, 1)
	v6 = strings.Replace(v6, "vrrp_auth_pass = \"secret42\"\n", "", 1) // VRRPv3 (IPv6) has no authentication
	v6 = strings.Replace(v6, `address = "10.0.0.1"`, `address = "2001:db8::1"`, 1)
	v6 = strings.Replace(v6, `address = "10.0.0.2"`, `address = "2001:db8::2"`, 1)
	v6 = strings.Replace(v6, `address = "10.0.0.11"`, `address = "2001:db8::11"`, 1)
	v6 = strings.Replace(v6, `address = "10.0.0.12"`, `address = "2001:db8::12"`, 1)
	table, err = reconcile.Desired(parseInv(t, v6), "")
	if err != nil {
		t.Fatal(err)
	}
	if table[0].Service.Netmask != 128 {
		t.Errorf("IPv6 netmask = %d, want 128", table[0].Service.Netmask)
	}
}

// Every kernel field that can drift is put back with one Update call of
// that object, never a Delete and an Add.
func TestEveryFieldIsAnUpdate(t *testing.T) {
	udp := ipvs.ServiceKey{Protocol: ipvs.UDP, AddrPort: mustAP("10.0.0.100:5514")}
	tcp := ipvs.ServiceKey{Protocol: ipvs.TCP, AddrPort: mustAP("10.0.0.100:5044")}
	l1 := mustAP("10.0.0.11:5514")
	tests := []struct {
		name  string
		drift func(f *fake)
		field string // the fields that differ, comma-separated
		call  string
	}{
		{"scheduler", func(f *fake) { f.svcs[udp].svc.Scheduler = "wrr" }, "scheduler", "UpdateService UDP 10.0.0.100:5514"},
		{"ops flag off", func(f *fake) { f.svcs[udp].svc.Flags &^= ipvs.FlagOnePacket }, "flags", "UpdateService UDP 10.0.0.100:5514"},
		{"persistent flag on", func(f *fake) { f.svcs[udp].svc.Flags |= ipvs.FlagPersistent; f.svcs[udp].svc.Timeout = 60 }, "flags,timeout", "UpdateService UDP 10.0.0.100:5514"},
		{"scheduler flag", func(f *fake) { f.svcs[udp].svc.Flags |= ipvs.FlagSched2 }, "flags", "UpdateService UDP 10.0.0.100:5514"},
		{"persistence timeout", func(f *fake) { f.svcs[tcp].svc.Timeout = 60 }, "timeout", "UpdateService TCP 10.0.0.100:5044"},
		{"persistence netmask", func(f *fake) { f.svcs[tcp].svc.Netmask = 0xffffff00 }, "netmask", "UpdateService TCP 10.0.0.100:5044"},
		{"forwarding", func(f *fake) { f.dest(udp, l1).Forwarding = ipvs.Route }, "forwarding", "UpdateDestination UDP 10.0.0.100:5514 " + l1.String()},
		{"weight", func(f *fake) { f.dest(udp, l1).Weight = 9 }, "weight", "UpdateDestination UDP 10.0.0.100:5514 " + l1.String()},
		{"upper threshold", func(f *fake) { f.dest(udp, l1).UpperThreshold = 100 }, "upper_threshold", "UpdateDestination UDP 10.0.0.100:5514 " + l1.String()},
		{"lower threshold", func(f *fake) { f.dest(udp, l1).LowerThreshold = 5 }, "lower_threshold", "UpdateDestination UDP 10.0.0.100:5514 " + l1.String()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			rec := &recorder{Target: f}
			opts := tempState(t)
			converge(t, baseInventory, rec, opts)
			tc.drift(f)

			plan := prepare(t, baseInventory, rec, opts)
			if len(plan.Changes) != 1 {
				t.Fatalf("plan has %d changes, want 1 update:\n%s", len(plan.Changes), planText(t, plan))
			}
			c := plan.Changes[0]
			var fields []string
			for _, f := range c.Fields {
				fields = append(fields, f.Name)
			}
			if c.Action != reconcile.Update || strings.Join(fields, ",") != tc.field {
				t.Fatalf("change = %s, want an update of %s only", c, tc.field)
			}
			rec.reset()
			if _, err := reconcile.Execute(ctx, plan, rec, opts.State(), nil); err != nil {
				t.Fatal(err)
			}
			if w := rec.writes(); !slices.Equal(w, []string{tc.call}) {
				t.Errorf("writes = %v, want [%s]", w, tc.call)
			}
			if p := prepare(t, baseInventory, rec, opts); !p.Empty() {
				t.Errorf("not converged after the update:\n%s", planText(t, p))
			}
		})
	}
}

// Editing the inventory is an update too.
func TestInventoryEditIsAnUpdate(t *testing.T) {
	tests := []struct {
		name, old, new string
		want           string
	}{
		{"scheduler", `scheduler = "rr"`, `scheduler = "wrr"`,
			"~ update service syslog-udp UDP 10.0.0.100:5514: scheduler rr -> wrr"},
		{"one_packet", `one_packet = true`, `one_packet = false`,
			"~ update service syslog-udp UDP 10.0.0.100:5514: flags ops -> none"},
		{"persistence", `one_packet = true`, "one_packet = true\npersistence = \"60s\"",
			"~ update service syslog-udp UDP 10.0.0.100:5514: flags ops -> persistent,ops, timeout 0 -> 60"},
		{"persistence timeout", `persistence = "300s"`, `persistence = "10m"`,
			"~ update service beats TCP 10.0.0.100:5044: timeout 300 -> 600"},
		{"weight", `weight = 3`, `weight = 0`,
			"~ update destination beats TCP 10.0.0.100:5044 -> 10.0.0.11:5044: weight 3 -> 0\n" +
				"~ update destination beats TCP 10.0.0.100:5044 -> 10.0.0.12:5044: weight 3 -> 0"},
		{"forwarding", "forwarding = \"nat\"\none_packet", "forwarding = \"dr\"\none_packet",
			"~ update destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.11:5514: forwarding Masq -> Route\n" +
				"~ update destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.12:5514: forwarding Masq -> Route"},
		{"remove a backend", `one_packet = true`, "one_packet = true\nbackends = [\"l2\"]",
			"- delete destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.11:5514"},
		{"change backend port", `one_packet = true`, "one_packet = true\nbackend_port = 6514",
			"+ add destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.11:6514 Masq weight 1\n" +
				"+ add destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.12:6514 Masq weight 1\n" +
				"- delete destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.11:5514\n" +
				"- delete destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.12:5514"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			edited := strings.Replace(baseInventory, tc.old, tc.new, 1)
			if edited == baseInventory {
				t.Fatalf("edit %q did not apply", tc.old)
			}
			f := newFake()
			rec := &recorder{Target: f}
			opts := tempState(t)
			converge(t, baseInventory, rec, opts)
			plan := prepare(t, edited, rec, opts)
			var lines []string
			for _, c := range plan.Changes {
				lines = append(lines, c.String())
			}
			if got := strings.Join(lines, "\n"); got != tc.want {
				t.Fatalf("plan:\n%s\nwant:\n%s", got, tc.want)
			}
			rec.reset()
			if _, err := reconcile.Execute(ctx, plan, rec, opts.State(), nil); err != nil {
				t.Fatal(err)
			}
			for _, w := range rec.writes() {
				if strings.HasPrefix(w, "DeleteService") || strings.HasPrefix(w, "AddService") {
					t.Errorf("edit %s re-created a service: %v", tc.name, rec.writes())
				}
			}
			if p := prepare(t, edited, rec, opts); !p.Empty() {
				t.Errorf("not converged:\n%s", planText(t, p))
			}
		})
	}
}

// Counters, connection counts and the kernel's hashed flag never make a
// difference; neither do timeout and netmask of a service that is not
// persistent (the kernel ignores them then).
func TestDiffIgnoresStateThatIsNotConfiguration(t *testing.T) {
	f := newFake()
	opts := tempState(t)
	converge(t, baseInventory, f, opts)
	udp := ipvs.ServiceKey{Protocol: ipvs.UDP, AddrPort: mustAP("10.0.0.100:5514")}
	s := f.svcs[udp]
	s.svc.Stats = ipvs.Stats{Connections: 5, PacketsIn: 1000, BytesIn: 64000}
	s.svc.Flags |= ipvs.FlagHashed
	s.svc.Timeout = 77
	s.svc.Netmask = 0
	s.dests[0].ActiveConns, s.dests[0].InactiveConns = 3, 4
	s.dests[0].Stats = ipvs.Stats{PacketsIn: 500}
	if p := prepare(t, baseInventory, f, opts); !p.Empty() {
		t.Errorf("plan not empty:\n%s", planText(t, p))
	}
}

func TestPlanOrder(t *testing.T) {
	f := newFake()
	// The kernel's order is insertion order; the plan's is sorted.
	f.put(ipvs.Service{Protocol: ipvs.UDP, Address: addr("10.0.0.100"), Port: 6514, Scheduler: "rr", Netmask: 0xffffffff},
		ipvs.Destination{Address: addr("10.0.0.11"), Port: 6514, Weight: 1})
	f.put(ipvs.Service{Protocol: ipvs.UDP, Address: addr("10.0.0.100"), Port: 5514, Scheduler: "wrr", Flags: ipvs.FlagOnePacket, Netmask: 0xffffffff},
		ipvs.Destination{Address: addr("10.0.0.13"), Port: 5514, Weight: 1},
		ipvs.Destination{Address: addr("10.0.0.11"), Port: 5514, Weight: 7})
	opts := tempState(t)
	if _, err := reconcile.SaveOwned(opts.State(), reconcile.Owned{
		{Protocol: ipvs.UDP, AddrPort: mustAP("10.0.0.100:6514")}: "old",
		{Protocol: ipvs.UDP, AddrPort: mustAP("10.0.0.100:5514")}: "syslog-udp",
	}); err != nil {
		t.Fatal(err)
	}
	opts.Prune = true
	plan := prepare(t, baseInventory, f, opts)
	want := `+ add service beats TCP 10.0.0.100:5044 wlc persistent 300
+ add destination beats TCP 10.0.0.100:5044 -> 10.0.0.11:5044 Masq weight 3
+ add destination beats TCP 10.0.0.100:5044 -> 10.0.0.12:5044 Masq weight 3
~ update service syslog-udp UDP 10.0.0.100:5514: scheduler wrr -> rr
+ add destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.12:5514 Masq weight 1
~ update destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.11:5514: weight 7 -> 1
- delete destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.13:5514
- delete service old UDP 10.0.0.100:6514 (and its 1 destination)
Plan: 4 to add, 2 to update, 2 to delete.
`
	if got := planText(t, plan); got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
	rec := &recorder{Target: f}
	if _, err := reconcile.Execute(ctx, plan, rec, opts.State(), nil); err != nil {
		t.Fatal(err)
	}
	if len(rec.writes()) != len(plan.Changes) {
		t.Errorf("%d writes for %d changes", len(rec.writes()), len(plan.Changes))
	}
	if p := prepare(t, baseInventory, f, opts); !p.Empty() {
		t.Errorf("not converged:\n%s", planText(t, p))
	}
}

func TestForeignServicesAreNeverTouched(t *testing.T) {
	f := newFake()
	foreign := []ipvs.Service{
		{Protocol: ipvs.TCP, Address: addr("192.0.2.1"), Port: 80, Scheduler: "wlc", Netmask: 0xffffffff},
		// Same VIP, another port: still not hala's.
		{Protocol: ipvs.UDP, Address: addr("10.0.0.100"), Port: 9999, Scheduler: "sh", Netmask: 0xffffffff},
		{FWMark: 7, Address: addr("0.0.0.0"), Scheduler: "rr"},
	}
	// One of them has a destination that is also one of hala's backends.
	f.put(foreign[0], ipvs.Destination{Address: addr("192.0.2.2"), Port: 80, Weight: 5})
	f.put(foreign[1], ipvs.Destination{Address: addr("10.0.0.11"), Port: 5514, Weight: 1, Forwarding: ipvs.Route})
	f.put(foreign[2])
	rec := &recorder{Target: f}
	opts := tempState(t)
	opts.Prune = true
	for run := 0; run < 2; run++ {
		plan := converge(t, baseInventory, rec, opts)
		if len(plan.Foreign) != 3 {
			t.Errorf("run %d: foreign = %v, want 3", run, plan.Foreign)
		}
		if !strings.Contains(plan.Summary(), "3 foreign services left alone") {
			t.Errorf("summary %q does not mention the foreign services", plan.Summary())
		}
	}
	for _, w := range rec.writes() {
		for _, s := range foreign {
			if strings.Contains(w, s.Key().String()) {
				t.Errorf("write to a foreign service: %s", w)
			}
		}
	}
	if len(f.svcs[foreign[0].Key()].dests) != 1 || len(f.svcs[foreign[1].Key()].dests) != 1 {
		t.Error("foreign destinations changed")
	}
	owned, err := reconcile.LoadOwned(opts.State())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range foreign {
		if owned.Has(s.Key()) {
			t.Errorf("state file claims foreign %s", s.Key())
		}
	}
}

func TestPruneDeletesOnlyOwnedServicesGoneFromTheInventory(t *testing.T) {
	f := newFake()
	rec := &recorder{Target: f}
	opts := tempState(t)
	converge(t, baseInventory, rec, opts)
	f.put(ipvs.Service{Protocol: ipvs.TCP, Address: addr("192.0.2.1"), Port: 80, Scheduler: "wlc"})

	// Drop the beats service from the inventory.
	withoutBeats := baseInventory[:strings.Index(baseInventory, "[[service]]\nname = \"beats\"")]

	plan := prepare(t, withoutBeats, rec, opts)
	if !plan.Empty() || len(plan.Kept) != 1 || plan.Kept[0].Name != "beats" {
		t.Fatalf("without prune: changes %v kept %v, want none and beats kept", plan.Changes, plan.Kept)
	}
	if !strings.Contains(plan.Summary(), "1 owned service no longer in the inventory, kept (--prune deletes it)") {
		t.Errorf("summary = %q", plan.Summary())
	}
	rec.reset()
	if _, err := reconcile.Execute(ctx, plan, rec, opts.State(), nil); err != nil {
		t.Fatal(err)
	}
	if len(rec.writes()) != 0 {
		t.Errorf("apply without prune wrote %v", rec.writes())
	}
	owned, _ := reconcile.LoadOwned(opts.State())
	if !owned.Has(ipvs.ServiceKey{Protocol: ipvs.TCP, AddrPort: mustAP("10.0.0.100:5044")}) {
		t.Error("kept service dropped from the state file: a later --prune could not delete it")
	}

	opts.Prune = true
	rec.reset()
	plan = converge(t, withoutBeats, rec, opts)
	if got := rec.writes(); !slices.Equal(got, []string{"DeleteService TCP 10.0.0.100:5044"}) {
		t.Errorf("prune wrote %v, want one DeleteService (its destinations go with it)", got)
	}
	owned, _ = reconcile.LoadOwned(opts.State())
	if owned.Has(ipvs.ServiceKey{Protocol: ipvs.TCP, AddrPort: mustAP("10.0.0.100:5044")}) {
		t.Error("pruned service still in the state file")
	}
	if _, ok := f.svcs[ipvs.ServiceKey{Protocol: ipvs.TCP, AddrPort: mustAP("192.0.2.1:80")}]; !ok {
		t.Error("prune deleted a foreign service")
	}
}

// An owned service that disappeared from both the kernel and the inventory
// is forgotten, so a service another tool creates later at the same
// address is not pruned as hala's.
func TestOwnershipIsForgottenWhenTheServiceIsGone(t *testing.T) {
	f := newFake()
	opts := tempState(t)
	converge(t, baseInventory, f, opts)
	withoutBeats := baseInventory[:strings.Index(baseInventory, "[[service]]\nname = \"beats\"")]
	tcp := ipvs.ServiceKey{Protocol: ipvs.TCP, AddrPort: mustAP("10.0.0.100:5044")}
	_ = f.do(ipvs.Request{Op: ipvs.OpDeleteService, Service: f.svcs[tcp].svc}) // an operator removes it by hand
	converge(t, withoutBeats, f, opts)

	f.put(ipvs.Service{Protocol: ipvs.TCP, Address: addr("10.0.0.100"), Port: 5044, Scheduler: "rr"}) // another tool
	opts.Prune = true
	plan := prepare(t, withoutBeats, f, opts)
	if !plan.Empty() || len(plan.Foreign) != 1 {
		t.Errorf("plan %s, foreign %v: want the new service left alone as foreign", planText(t, plan), plan.Foreign)
	}
}

func TestApplyStopsAtTheFirstErrorAndReRunConverges(t *testing.T) {
	f := newFake()
	rec := &recorder{Target: f}
	opts := tempState(t)
	boom := errors.New("boom")
	f.fail = func(call string) error {
		if call == "AddService UDP 10.0.0.100:5514" {
			return boom
		}
		return nil
	}
	plan := prepare(t, baseInventory, rec, opts)
	rec.reset()
	var progressed []string
	applied, err := reconcile.Execute(ctx, plan, rec, opts.State(), func(c reconcile.Change) { progressed = append(progressed, c.String()) })
	var ae *reconcile.ApplyError
	if !errors.As(err, &ae) || !errors.Is(err, boom) {
		t.Fatalf("err = %v, want an *ApplyError wrapping the cause", err)
	}
	if len(applied) != 3 || len(ae.Applied) != 3 || len(progressed) != 3 {
		t.Errorf("applied %d (error says %d, progress %d), want 3", len(applied), len(ae.Applied), len(progressed))
	}
	if ae.Failed.String() != "+ add service syslog-udp UDP 10.0.0.100:5514 rr ops" || ae.NotAttempted != 2 {
		t.Errorf("failed = %q, not attempted %d", ae.Failed, ae.NotAttempted)
	}
	if got := err.Error(); got != "apply stopped after 3 of 6 changes: boom" {
		t.Errorf("error = %q", got)
	}
	if last := rec.calls[len(rec.calls)-1]; last != "AddService UDP 10.0.0.100:5514" {
		t.Errorf("calls went on after the failure: %v", rec.calls)
	}
	owned, _ := reconcile.LoadOwned(opts.State())
	if len(owned) != 2 {
		t.Errorf("state after a failure owns %v, want both inventory services", owned.Keys())
	}

	f.fail = nil
	plan = prepare(t, baseInventory, rec, opts)
	if a, u, d := plan.Counts(); a != 3 || u != 0 || d != 0 {
		t.Errorf("re-run plan:\n%s\nwant the 3 remaining adds", planText(t, plan))
	}
	converge(t, baseInventory, rec, opts)
	if p := prepare(t, baseInventory, rec, opts); !p.Empty() {
		t.Errorf("not converged:\n%s", planText(t, p))
	}
}

// Cancelling the context stops Apply: nothing is made after the cancel,
// and the error says what was applied.
func TestApplyHonoursCancellation(t *testing.T) {
	f := newFake()
	plan := prepare(t, baseInventory, f, tempState(t))
	cctx, cancel := context.WithCancel(ctx)
	n := 0
	f.fail = func(string) error {
		n++
		if n == 2 {
			cancel() // while the second request is made
		}
		return nil
	}
	applied, err := reconcile.Apply(cctx, plan, f, nil)
	var ae *reconcile.ApplyError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &ae) {
		t.Fatalf("err = %v, want an *ApplyError wrapping context.Canceled", err)
	}
	if len(applied) != 2 || len(ae.Applied) != 2 || ae.NotAttempted != 3 {
		t.Errorf("applied %d (error says %d), not attempted %d; want 2 and 3", len(applied), len(ae.Applied), ae.NotAttempted)
	}
	entries, _ := f.Entries(ctx)
	if len(entries) != 1 || len(entries[0].Destinations) != 1 {
		t.Errorf("table after cancel: %v, want one service with one destination", entries)
	}
}

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "owned.json")
	o, err := reconcile.LoadOwned(path)
	if err != nil || len(o) != 0 {
		t.Fatalf("missing file: %v, %v; want empty", o, err)
	}
	o = reconcile.Owned{
		{Protocol: ipvs.UDP, AddrPort: mustAP("10.0.0.100:5514")}:        "syslog",
		{Protocol: ipvs.TCP, AddrPort: mustAP("[2001:db8::1]:80")}:       "",
		{FWMark: 9, AddrPort: mustAP("0.0.0.0:0")}:                       "marked",
		{Protocol: ipvs.SCTP, AddrPort: mustAP("192.0.2.9:3868")}:        "diameter",
		{FWMark: 9, AddrPort: netipAddrPortV6Zero()}:                     "marked6",
		{Protocol: ipvs.UDP, AddrPort: mustAP("[2001:db8::1]:5514")}:     "v6",
		{Protocol: ipvs.UDP, AddrPort: mustAP("192.0.2.200:5514")}:       "x",
		{Protocol: ipvs.TCP, AddrPort: mustAP("192.0.2.200:5514")}:       "y",
		{Protocol: ipvs.UDP, AddrPort: mustAP("192.0.2.200:65535")}:      "z",
		{Protocol: ipvs.UDP, AddrPort: mustAP("[2001:db8::ff]:65535")}:   "w",
		{Protocol: ipvs.UDP, AddrPort: mustAP("[2001:db8::ff]:1")}:       "v",
		{Protocol: ipvs.UDP, AddrPort: mustAP("10.255.255.255:65535")}:   "u",
		{Protocol: ipvs.UDP, AddrPort: mustAP("[::ffff:10.0.0.1]:5514")}: "mapped",
	}
	wrote, err := reconcile.SaveOwned(path, o)
	if err != nil || !wrote {
		t.Fatalf("save: %v, wrote %v", err, wrote)
	}
	back, err := reconcile.LoadOwned(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(o) {
		t.Fatalf("round trip: %d of %d services", len(back), len(o))
	}
	for k, name := range o {
		if back[k] != name || !back.Has(k) {
			t.Errorf("round trip lost %s (%q)", k, name)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	if wrote, err := reconcile.SaveOwned(path, back); err != nil || wrote {
		t.Errorf("saving the same set again: wrote %v, %v; want no write", wrote, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("state directory holds %d files, want 1 (no temporary left)", len(entries))
	}

	if err := os.WriteFile(path, []byte(`{"services":[{"service":"UDP nonsense"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := reconcile.LoadOwned(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("corrupt state: err = %v, want one naming the file", err)
	}
}

func TestPlanJSON(t *testing.T) {
	f := newFake()
	f.put(ipvs.Service{Protocol: ipvs.TCP, Address: addr("192.0.2.1"), Port: 80, Scheduler: "wlc"})
	plan := prepare(t, baseInventory, f, tempState(t))
	data, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Changes []struct {
			Action, Object, Name, Service, Destination, Ipvsadm string
		}
		Add, Update, Delete int
		Foreign             []struct{ Service string }
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Add != 6 || len(got.Changes) != 6 || len(got.Foreign) != 1 || got.Foreign[0].Service != "TCP 192.0.2.1:80" {
		t.Fatalf("json = %s", data)
	}
	c := got.Changes[4]
	if c.Action != "add" || c.Object != "destination" || c.Name != "syslog-udp" || c.Service != "UDP 10.0.0.100:5514" ||
		c.Destination != "10.0.0.11:5514" || c.Ipvsadm != "ipvsadm -a -u 10.0.0.100:5514 -r 10.0.0.11:5514 -m -w 1" {
		t.Errorf("change 4 = %+v", c)
	}
	empty, _ := json.Marshal(reconcile.Plan{})
	if !strings.Contains(string(empty), `"changes":[]`) {
		t.Errorf("empty plan json = %s, want an empty changes list", empty)
	}
}

func TestShowNamesOwnedAndForeign(t *testing.T) {
	f := newFake()
	opts := tempState(t)
	converge(t, baseInventory, f, opts)
	f.put(ipvs.Service{Protocol: ipvs.TCP, Address: addr("192.0.2.1"), Port: 80, Scheduler: "wlc"},
		ipvs.Destination{Address: addr("192.0.2.2"), Port: 80, Weight: 5, Stats: ipvs.Stats{PacketsIn: 42}})
	owned, _ := reconcile.LoadOwned(opts.State())

	for _, withInv := range []bool{true, false} {
		inv := parseInv(t, baseInventory)
		if !withInv {
			inv = nil // names then come from the state file
		}
		table, err := reconcile.Show(ctx, f, inv, owned)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := table.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, want := range []string{"hala (beats)", "hala (syslog-udp)", "foreign", "192.0.2.2:80", "42"} {
			if !strings.Contains(out, want) {
				t.Errorf("inventory %v: show lacks %q:\n%s", withInv, want, out)
			}
		}
		if strings.Count(out, "foreign") != 1 {
			t.Errorf("inventory %v: want exactly one foreign service:\n%s", withInv, out)
		}
	}
}

// A service at an inventory key that hala did not create (keepalived's,
// one made with ipvsadm) is not silently taken over: the plan says
// "adopt", Execute refuses it without AdoptConfirmed and changes nothing,
// and with it converges and records the service as hala's.
func TestAdoptionNeedsConfirmation(t *testing.T) {
	f := newFake()
	// As keepalived leaves it after removing a failing real server.
	f.put(ipvs.Service{Protocol: ipvs.UDP, Address: addr("10.0.0.100"), Port: 5514, Scheduler: "rr", Flags: ipvs.FlagOnePacket, Netmask: 0xffffffff},
		ipvs.Destination{Address: addr("10.0.0.12"), Port: 5514, Weight: 1})
	rec := &recorder{Target: f}
	opts := tempState(t)
	plan := prepare(t, baseInventory, rec, opts)
	text := planText(t, plan)
	if !strings.HasPrefix(text, "~ adopt service syslog-udp UDP 10.0.0.100:5514 (not created by hala)\n") ||
		!strings.Contains(text, "Plan: 1 service to adopt (--adopt), 4 to add, 0 to update, 0 to delete.") {
		t.Errorf("plan does not announce the adoption:\n%s", text)
	}
	rec.reset()
	if _, err := reconcile.Execute(ctx, plan, rec, opts.State(), nil); !errors.Is(err, reconcile.ErrAdopt) ||
		!strings.Contains(err.Error(), "syslog-udp (UDP 10.0.0.100:5514)") {
		t.Errorf("execute without confirmation: %v, want ErrAdopt naming the service", err)
	}
	if w := rec.writes(); len(w) != 0 {
		t.Errorf("refused plan wrote %v", w)
	}
	if _, err := os.Stat(opts.State()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refused plan wrote the state file: %v", err)
	}

	opts.Adopt = true
	plan = converge(t, baseInventory, rec, opts)
	if len(plan.Adopt) != 1 || !plan.AdoptConfirmed {
		t.Errorf("adopt plan: %v confirmed %v", plan.Adopt, plan.AdoptConfirmed)
	}
	if w := rec.writes(); !slices.Contains(w, "AddDestination UDP 10.0.0.100:5514 10.0.0.11:5514") {
		t.Errorf("adoption did not converge the service: %v", w)
	}
	opts.Adopt = false
	if p := prepare(t, baseInventory, rec, opts); !p.Empty() || len(p.Adopt) != 0 {
		t.Errorf("after adoption the service is hala's; plan:\n%s", planText(t, p))
	}
}
