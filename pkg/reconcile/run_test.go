package reconcile_test

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/reconcile"
)

// A dry run plans against the kernel and writes nothing: no kernel
// request, no state file. The plan is the one a real run then carries out.
func TestRunDryRunWritesNothing(t *testing.T) {
	rec := &recorder{Target: newFake()}
	opts := tempState(t)
	opts.DryRun = true
	var phases []string
	opts.Phase = func(p reconcile.Phase) { phases = append(phases, p.String()) }
	res, err := reconcile.Run(ctx, parseInv(t, baseInventory), rec, opts)
	if err != nil {
		t.Fatal(err)
	}
	if a, _, _ := res.Plan.Counts(); a != 6 || len(res.Applied) != 0 || res.Failure != nil {
		t.Errorf("dry run: plan of %d adds, %d applied, failure %v", a, len(res.Applied), res.Failure)
	}
	if !slices.Equal(rec.calls, []string{"Entries"}) {
		t.Errorf("dry run made calls %v, want one read", rec.calls)
	}
	if _, err := os.Stat(opts.State()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dry run wrote the state file (%v)", err)
	}
	if !slices.Equal(phases, []string{"desired", "plan"}) {
		t.Errorf("phases %v, want desired, plan", phases)
	}

	opts.DryRun, phases = false, nil
	var progressed []string
	opts.Progress = func(c reconcile.Change) { progressed = append(progressed, c.String()) }
	res, err = reconcile.Run(ctx, parseInv(t, baseInventory), rec, opts)
	if err != nil || len(res.Applied) != 6 || len(progressed) != 6 || !slices.Equal(phases, []string{"desired", "plan", "apply"}) {
		t.Fatalf("run: %v, %d applied, %d progressed, phases %v", err, len(res.Applied), len(progressed), phases)
	}
	if got := res.Summary(); got != "Applied: 6 added, 0 updated, 0 deleted (0 netlink writes)." {
		t.Errorf("summary %q", got)
	}
	rec.reset()
	res, err = reconcile.Run(ctx, parseInv(t, baseInventory), rec, opts)
	if err != nil || len(rec.writes()) != 0 || res.Summary() != "No changes: the IPVS table matches the inventory (0 netlink writes)." {
		t.Errorf("second run: %v, writes %v, summary %q", err, rec.writes(), res.Summary())
	}
}

// The inventory is checked before the kernel is read: a bad --node reads
// nothing.
func TestRunChecksTheInventoryFirst(t *testing.T) {
	rec := &recorder{Target: newFake()}
	opts := tempState(t)
	opts.Node = "nosuch"
	if _, err := reconcile.Run(ctx, parseInv(t, baseInventory), rec, opts); err == nil || len(rec.calls) != 0 {
		t.Errorf("Run = %v after calls %v, want an error before any", err, rec.calls)
	}
}

// Run refuses to take over a service hala did not create unless
// Options.Adopt is set: an *AdoptError naming it, no write, no state file,
// and the plan in the Result so the caller can show it. With Adopt it
// converges.
func TestRunRefusesAdoptionWithoutAdopt(t *testing.T) {
	f := newFake()
	f.put(ipvs.Service{Protocol: ipvs.UDP, Address: addr("10.0.0.100"), Port: 5514, Scheduler: "rr", Flags: ipvs.FlagOnePacket, Netmask: 0xffffffff},
		ipvs.Destination{Address: addr("10.0.0.12"), Port: 5514, Weight: 1})
	rec := &recorder{Target: f}
	opts := tempState(t)
	var phases []string
	opts.Phase = func(p reconcile.Phase) { phases = append(phases, p.String()) }
	res, err := reconcile.Run(ctx, parseInv(t, baseInventory), rec, opts)
	var refused *reconcile.AdoptError
	if !errors.As(err, &refused) || !errors.Is(err, reconcile.ErrAdopt) || len(refused.Services) != 1 ||
		refused.Services[0].String() != "syslog-udp (UDP 10.0.0.100:5514)" {
		t.Fatalf("Run = %v, want an *AdoptError naming syslog-udp", err)
	}
	if len(res.Plan.Adopt) != 1 || len(res.Applied) != 0 || len(rec.writes()) != 0 {
		t.Errorf("refused run: plan adopts %v, applied %v, writes %v", res.Plan.Adopt, res.Applied, rec.writes())
	}
	if _, err := os.Stat(opts.State()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refused run wrote the state file (%v)", err)
	}
	if !slices.Equal(phases, []string{"desired", "plan"}) {
		t.Errorf("phases %v: a refused run applies nothing", phases)
	}

	opts.Adopt = true
	res, err = reconcile.Run(ctx, parseInv(t, baseInventory), rec, opts)
	if err != nil || len(res.Applied) != 4 {
		t.Fatalf("run with Adopt: %v, %d applied", err, len(res.Applied))
	}
	var b strings.Builder
	if err := res.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if want := "adopted service syslog-udp (UDP 10.0.0.100:5514)\nApplied: 4 added, 0 updated, 0 deleted (0 netlink writes).\n"; b.String() != want {
		t.Errorf("report %q, want %q", b.String(), want)
	}
}

// Adjust edits the desired table before the diff, as the director does
// with its health checks' verdicts: a dropped destination is deleted from
// the kernel, a changed weight updated, and a run with the same Adjust
// then has nothing to do. Without Adjust the inventory's table comes back.
func TestRunHonoursAdjust(t *testing.T) {
	f := newFake()
	opts := tempState(t)
	inv := parseInv(t, baseInventory)
	if _, err := reconcile.Run(ctx, inv, f, opts); err != nil {
		t.Fatal(err)
	}
	down := addr("10.0.0.12")
	opts.Adjust = func(tab reconcile.Table) reconcile.Table {
		for i := range tab {
			tab[i].Destinations = slices.DeleteFunc(tab[i].Destinations, func(d ipvs.Destination) bool { return d.Address == down })
			if tab[i].Name == "beats" {
				for j := range tab[i].Destinations {
					tab[i].Destinations[j].Weight = 7
				}
			}
		}
		return tab
	}
	rec := &recorder{Target: f}
	res, err := reconcile.Run(ctx, inv, rec, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"~ update destination beats TCP 10.0.0.100:5044 -> 10.0.0.11:5044: weight 3 -> 7",
		"- delete destination beats TCP 10.0.0.100:5044 -> 10.0.0.12:5044",
		"- delete destination syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.12:5514",
	}
	var got []string
	for _, c := range res.Applied {
		got = append(got, c.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("adjusted run applied:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	entries, _ := f.Entries(ctx)
	for _, e := range entries {
		for _, d := range e.Destinations {
			if d.Address == down {
				t.Errorf("%s still has the dropped destination %s", e.Service.Key(), d.Key())
			}
		}
	}
	rec.reset()
	if res, err := reconcile.Run(ctx, inv, rec, opts); err != nil || !res.Plan.Empty() || len(rec.writes()) != 0 {
		t.Errorf("same Adjust again: %v, plan empty %v, writes %v", err, res.Plan.Empty(), rec.writes())
	}
	opts.Adjust = nil
	if res, err := reconcile.Run(ctx, inv, f, opts); err != nil || len(res.Applied) != 3 {
		t.Errorf("without Adjust: %v, %d applied, want the 3 changes undone", err, len(res.Applied))
	}
}

// A change the kernel refuses stops the run: the Result says what was
// applied and what failed, its Failure is the error, and its report is
// apply's.
func TestRunReportsAFailure(t *testing.T) {
	f := newFake()
	boom := errors.New("boom")
	f.fail = func(call string) error {
		if call == "AddService UDP 10.0.0.100:5514" {
			return boom
		}
		return nil
	}
	res, err := reconcile.Run(ctx, parseInv(t, baseInventory), f, tempState(t))
	if !errors.Is(err, boom) || res.Failure == nil || error(res.Failure) != err || len(res.Applied) != 3 {
		t.Fatalf("Run = %v, failure %v, %d applied", err, res.Failure, len(res.Applied))
	}
	var b strings.Builder
	if err := res.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := "! failed: + add service syslog-udp UDP 10.0.0.100:5514 rr ops\nStopped: 3 of 6 changes applied, 1 failed, 2 not attempted (0 netlink writes).\n"
	if b.String() != want {
		t.Errorf("report %q, want %q", b.String(), want)
	}
}

// A caller that keeps the desired table (the director) passes it in; Run
// converges on it and does not compute its own from the inventory.
func TestRunUsesAGivenDesiredTable(t *testing.T) {
	f := newFake()
	opts := tempState(t)
	inv := parseInv(t, baseInventory)
	desired, err := reconcile.Desired(inv, "")
	if err != nil {
		t.Fatal(err)
	}
	// Only the first service of the table: the given table is what counts.
	opts.Desired = desired[:1]
	res, err := reconcile.Run(ctx, inv, f, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Applied {
		if c.Name != desired[0].Name {
			t.Errorf("applied %s, which is not in the given table", c)
		}
	}
	if len(res.Applied) != 1+len(desired[0].Destinations) {
		t.Errorf("applied %d changes, want the given service and its %d destinations", len(res.Applied), len(desired[0].Destinations))
	}
}
