//go:build linux && integration

package reconcile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hala-lb/hala/pkg/internal/testutil"
	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/reconcile"
)

// realKernel is a recorder around a real handle on a fresh namespace, with
// ipvsadm run in that namespace as the independent oracle. It counts the
// Batch and Entries calls, so tests can check that reconcile observes with
// one dump and applies through pipelined batches.
type realKernel struct {
	*recorder
	h       *ipvs.Handle
	ns      *testutil.NetNS
	ipvsadm string
	opts    reconcile.Options
	batches int // Batch calls since reset
	dumps   int // Entries calls since reset
}

func (k *realKernel) Batch(ctx context.Context, reqs []ipvs.Request) []error {
	k.batches++
	return k.recorder.Batch(ctx, reqs)
}

func (k *realKernel) Entries(ctx context.Context) ([]ipvs.Entry, error) {
	k.dumps++
	return k.recorder.Entries(ctx)
}

func newRealKernel(t *testing.T) *realKernel {
	t.Helper()
	testutil.RequireKernel(t)
	ipvsadm := testutil.RequireTool(t, "ipvsadm")
	ns := testutil.NewNetNS(t)
	h, err := ipvs.New(ns.Path)
	if err != nil {
		t.Fatalf("ipvs.New(%s): %v", ns.Path, err)
	}
	t.Cleanup(func() { h.Close() })
	return &realKernel{
		recorder: &recorder{Target: h},
		h:        h, ns: ns, ipvsadm: ipvsadm,
		opts: reconcile.Options{StatePath: filepath.Join(t.TempDir(), "ipvs-owned.json")},
	}
}

// save returns ipvsadm -Sn's rules, sorted (its order is the kernel's hash
// order).
func (k *realKernel) save(t *testing.T) []string {
	t.Helper()
	out := strings.TrimSpace(k.ns.Run(t, k.ipvsadm, "-Sn"))
	if out == "" {
		return nil
	}
	lines := strings.Split(out, "\n")
	sort.Strings(lines)
	return lines
}

// ipvsadmDo runs ipvsadm with args in the namespace, as another tool would.
func (k *realKernel) ipvsadmDo(t *testing.T, args string) {
	t.Helper()
	k.ns.Run(t, k.ipvsadm, strings.Fields(args)...)
}

// converge plans and applies inv; it returns the plan and the writes made,
// checking the recorder's count against the handle's own counter.
func (k *realKernel) converge(t *testing.T, inv string) (reconcile.Plan, []string) {
	t.Helper()
	k.reset()
	k.batches, k.dumps = 0, 0
	plan := prepare(t, inv, k, k.opts)
	if k.dumps != 1 || len(k.calls) != 1 {
		t.Errorf("observing the table made %v; want one Entries dump", k.calls)
	}
	k.reset()
	before := k.h.Writes()
	if _, err := reconcile.Execute(ctx, plan, k, k.opts.State(), nil); err != nil {
		t.Fatalf("apply: %v", err)
	}
	w := k.writes()
	if len(w) != len(k.calls) {
		t.Errorf("apply made calls other than Batch: %v", k.calls)
	}
	if len(plan.Changes) > 0 && k.batches == 0 {
		t.Errorf("apply of %d changes did not go through Batch", len(plan.Changes))
	}
	if got := k.h.Writes() - before; got != uint64(len(w)) {
		t.Errorf("handle counted %d netlink writes, recorder %d", got, len(w))
	}
	return plan, w
}

func sortedLines(lines ...string) []string {
	sort.Strings(lines)
	return lines
}

var baseRules = sortedLines(
	"-A -t 10.0.0.100:5044 -s wlc -p 300",
	"-a -t 10.0.0.100:5044 -r 10.0.0.11:5044 -m -w 3",
	"-a -t 10.0.0.100:5044 -r 10.0.0.12:5044 -m -w 3",
	"-A -u 10.0.0.100:5514 -s rr -o",
	"-a -u 10.0.0.100:5514 -r 10.0.0.11:5514 -m -w 1",
	"-a -u 10.0.0.100:5514 -r 10.0.0.12:5514 -m -w 1",
)

func assertRules(t *testing.T, k *realKernel, want []string) {
	t.Helper()
	if got := k.save(t); !slices.Equal(got, want) {
		t.Errorf("ipvsadm -Sn:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestIntegrationApplyFromEmptyThenNoop(t *testing.T) {
	k := newRealKernel(t)
	plan, writes := k.converge(t, baseInventory)
	if len(writes) != 6 || len(plan.Changes) != 6 {
		t.Errorf("apply from empty: %d writes for %d changes, want 6", len(writes), len(plan.Changes))
	}
	assertRules(t, k, baseRules)

	// The kernel reports the hashed flag, its own order and counters; the
	// second apply still finds nothing to do and sends no write at all.
	plan, writes = k.converge(t, baseInventory)
	if !plan.Empty() || len(writes) != 0 {
		t.Errorf("re-apply: plan %v, writes %v; want none", plan.Changes, writes)
	}
	assertRules(t, k, baseRules)
}

// Each edit is made with Update calls only, never a delete and re-add, and
// the kernel ends up with the new value.
func TestIntegrationEditsAreUpdates(t *testing.T) {
	tests := []struct {
		name, old, new string
		writes         []string
		changed        map[string]string // rule before → rule after
	}{
		{"scheduler", `scheduler = "rr"`, `scheduler = "wrr"`,
			[]string{"UpdateService UDP 10.0.0.100:5514"},
			map[string]string{"-A -u 10.0.0.100:5514 -s rr -o": "-A -u 10.0.0.100:5514 -s wrr -o"}},
		{"ops off", `one_packet = true`, `one_packet = false`,
			[]string{"UpdateService UDP 10.0.0.100:5514"},
			map[string]string{"-A -u 10.0.0.100:5514 -s rr -o": "-A -u 10.0.0.100:5514 -s rr"}},
		{"persistence on", `one_packet = true`, "one_packet = true\npersistence = \"60s\"",
			[]string{"UpdateService UDP 10.0.0.100:5514"},
			map[string]string{"-A -u 10.0.0.100:5514 -s rr -o": "-A -u 10.0.0.100:5514 -s rr -p 60 -o"}},
		{"persistence off", `persistence = "300s"`, ``,
			[]string{"UpdateService TCP 10.0.0.100:5044"},
			map[string]string{"-A -t 10.0.0.100:5044 -s wlc -p 300": "-A -t 10.0.0.100:5044 -s wlc"}},
		{"weight", `weight = 3`, `weight = 7`,
			[]string{"UpdateDestination TCP 10.0.0.100:5044 10.0.0.11:5044", "UpdateDestination TCP 10.0.0.100:5044 10.0.0.12:5044"},
			map[string]string{
				"-a -t 10.0.0.100:5044 -r 10.0.0.11:5044 -m -w 3": "-a -t 10.0.0.100:5044 -r 10.0.0.11:5044 -m -w 7",
				"-a -t 10.0.0.100:5044 -r 10.0.0.12:5044 -m -w 3": "-a -t 10.0.0.100:5044 -r 10.0.0.12:5044 -m -w 7",
			}},
		{"forwarding", "forwarding = \"nat\"\npersistence", "forwarding = \"dr\"\npersistence",
			[]string{"UpdateDestination TCP 10.0.0.100:5044 10.0.0.11:5044", "UpdateDestination TCP 10.0.0.100:5044 10.0.0.12:5044"},
			map[string]string{
				"-a -t 10.0.0.100:5044 -r 10.0.0.11:5044 -m -w 3": "-a -t 10.0.0.100:5044 -r 10.0.0.11:5044 -g -w 3",
				"-a -t 10.0.0.100:5044 -r 10.0.0.12:5044 -m -w 3": "-a -t 10.0.0.100:5044 -r 10.0.0.12:5044 -g -w 3",
			}},
		{"remove a backend", `one_packet = true`, "one_packet = true\nbackends = [\"l2\"]",
			[]string{"DeleteDestination UDP 10.0.0.100:5514 10.0.0.11:5514"},
			map[string]string{"-a -u 10.0.0.100:5514 -r 10.0.0.11:5514 -m -w 1": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			edited := strings.Replace(baseInventory, tc.old, tc.new, 1)
			if edited == baseInventory {
				t.Fatalf("edit %q did not apply", tc.old)
			}
			k := newRealKernel(t)
			k.converge(t, baseInventory)
			_, writes := k.converge(t, edited)
			if !slices.Equal(writes, tc.writes) {
				t.Errorf("writes = %v, want %v (updates in place, no delete+add)", writes, tc.writes)
			}
			var want []string
			for _, r := range baseRules {
				if to, ok := tc.changed[r]; ok {
					if to != "" {
						want = append(want, to)
					}
					continue
				}
				want = append(want, r)
			}
			sort.Strings(want)
			assertRules(t, k, want)
			if plan, writes := k.converge(t, edited); !plan.Empty() || len(writes) != 0 {
				t.Errorf("not converged: %v", plan.Changes)
			}
		})
	}
}

// Drift made behind hala's back (ipvsadm -E/-e) is put back with updates.
func TestIntegrationDriftIsUpdatedInPlace(t *testing.T) {
	k := newRealKernel(t)
	k.converge(t, baseInventory)
	k.ipvsadmDo(t, "-E -u 10.0.0.100:5514 -s wrr")                               // drops ops too
	k.ipvsadmDo(t, "-e -u 10.0.0.100:5514 -r 10.0.0.11:5514 -g -w 9 -x 50 -y 5") // every destination field
	k.ipvsadmDo(t, "-E -t 10.0.0.100:5044 -s wlc -p 30 -M 255.255.255.0")
	plan, writes := k.converge(t, baseInventory)
	want := []string{
		"UpdateService TCP 10.0.0.100:5044",
		"UpdateService UDP 10.0.0.100:5514",
		"UpdateDestination UDP 10.0.0.100:5514 10.0.0.11:5514",
	}
	if !slices.Equal(writes, want) {
		t.Errorf("writes = %v, want %v\nplan:\n%s", writes, want, planText(t, plan))
	}
	assertRules(t, k, baseRules)
}

func TestIntegrationForeignServicesSurviveApplyAndPrune(t *testing.T) {
	k := newRealKernel(t)
	foreign := []string{
		"-A -t 192.0.2.1:80 -s wlc",
		"-a -t 192.0.2.1:80 -r 192.0.2.2:80 -m -w 5",
		"-a -t 192.0.2.1:80 -r 192.0.2.3:80 -m -w 1",
		"-A -u 10.0.0.100:9999 -s sh", // on hala's VIP, not in the inventory
		"-a -u 10.0.0.100:9999 -r 10.0.0.11:9999 -g -w 1",
		"-A -f 7 -s rr",
		"-a -f 7 -r 10.0.0.12:0 -g -w 1",
	}
	for _, r := range foreign {
		k.ipvsadmDo(t, r)
	}
	before := k.save(t)

	k.opts.Prune = false
	k.converge(t, baseInventory)
	k.opts.Prune = true
	plan, writes := k.converge(t, baseInventory)
	if len(writes) != 0 || len(plan.Foreign) != 3 {
		t.Errorf("prune: writes %v, foreign %v; want none and 3 foreign", writes, plan.Foreign)
	}
	// Also when hala's own services are replaced and pruned away.
	replaced := strings.ReplaceAll(baseInventory[:strings.Index(baseInventory, "[[service]]\nname = \"beats\"")], "5514", "6514")
	_, writes = k.converge(t, replaced)
	if want := []string{
		"AddService UDP 10.0.0.100:6514",
		"AddDestination UDP 10.0.0.100:6514 10.0.0.11:6514",
		"AddDestination UDP 10.0.0.100:6514 10.0.0.12:6514",
		"DeleteService TCP 10.0.0.100:5044",
		"DeleteService UDP 10.0.0.100:5514",
	}; !slices.Equal(writes, want) {
		t.Errorf("prune of hala's services: writes %v, want %v", writes, want)
	}
	var foreignNow []string
	for _, r := range k.save(t) {
		if !strings.Contains(r, "10.0.0.100:6514") {
			foreignNow = append(foreignNow, r)
		}
	}
	if got := foreignNow; !slices.Equal(got, before) {
		t.Errorf("foreign rules changed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(before, "\n"))
	}
}

func TestIntegrationPrune(t *testing.T) {
	k := newRealKernel(t)
	k.converge(t, baseInventory)
	withoutBeats := baseInventory[:strings.Index(baseInventory, "[[service]]\nname = \"beats\"")]

	plan, writes := k.converge(t, withoutBeats)
	if len(writes) != 0 || len(plan.Kept) != 1 {
		t.Errorf("without --prune: writes %v, kept %v; want none and beats kept", writes, plan.Kept)
	}
	assertRules(t, k, baseRules)

	k.opts.Prune = true
	_, writes = k.converge(t, withoutBeats)
	if !slices.Equal(writes, []string{"DeleteService TCP 10.0.0.100:5044"}) {
		t.Errorf("prune writes = %v", writes)
	}
	assertRules(t, k, sortedLines(
		"-A -u 10.0.0.100:5514 -s rr -o",
		"-a -u 10.0.0.100:5514 -r 10.0.0.11:5514 -m -w 1",
		"-a -u 10.0.0.100:5514 -r 10.0.0.12:5514 -m -w 1",
	))
}

// A change the kernel refuses halfway stops the apply: what was applied is
// reported, the failure names the cause, the rest is not attempted, and a
// re-run converges once the cause is gone.
func TestIntegrationFailureHalfwayThenConverge(t *testing.T) {
	k := newRealKernel(t)
	desired, err := reconcile.Desired(parseInv(t, baseInventory), "")
	if err != nil {
		t.Fatal(err)
	}
	// The UDP service asks for a scheduler the kernel has no module for.
	// (The inventory's validation rejects unknown names, so the table is
	// edited here; a blacklisted or missing module fails the same way.)
	broken := slices.Clone(desired)
	broken[1].Service.Scheduler = "nosuch"
	plan := reconcile.Diff(broken, nil, nil, false)

	applied, err := reconcile.Execute(ctx, plan, k, k.opts.State(), nil)
	var ae *reconcile.ApplyError
	if !errors.As(err, &ae) || !errors.Is(err, ipvs.ErrNoScheduler) {
		t.Fatalf("err = %v, want an ApplyError for a missing scheduler", err)
	}
	if len(applied) != 3 || ae.NotAttempted != 2 || ae.Failed.String() != "+ add service syslog-udp UDP 10.0.0.100:5514 nosuch ops" {
		t.Errorf("applied %d, failed %q, not attempted %d", len(applied), ae.Failed, ae.NotAttempted)
	}
	if !strings.Contains(err.Error(), "apply stopped after 3 of 6 changes: add service UDP 10.0.0.100:5514") ||
		!strings.Contains(err.Error(), "ip_vs_nosuch") {
		t.Errorf("error = %q", err)
	}
	assertRules(t, k, sortedLines( // the TCP service and its destinations
		"-A -t 10.0.0.100:5044 -s wlc -p 300",
		"-a -t 10.0.0.100:5044 -r 10.0.0.11:5044 -m -w 3",
		"-a -t 10.0.0.100:5044 -r 10.0.0.12:5044 -m -w 3",
	))
	if data, _ := os.ReadFile(k.opts.State()); !strings.Contains(string(data), "UDP 10.0.0.100:5514") {
		t.Errorf("state after the failure does not own the unfinished service:\n%s", data)
	}

	plan, writes := k.converge(t, baseInventory)
	if a, u, d := plan.Counts(); a != 3 || u != 0 || d != 0 {
		t.Errorf("re-run plan:\n%s\nwant the 3 remaining adds", planText(t, plan))
	}
	if len(writes) != 3 {
		t.Errorf("re-run writes = %v", writes)
	}
	assertRules(t, k, baseRules)
}

// Each namespace gets its own default state file: what hala owns in one is
// never pruned or counted as owned in another.
func TestIntegrationStatePathPerNamespace(t *testing.T) {
	testutil.RequireKernel(t)
	a, b := testutil.NewNetNS(t), testutil.NewNetNS(t)
	pa, err := reconcile.StatePathFor(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := reconcile.StatePathFor(b.Path)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := reconcile.StatePathFor(a.Path)
	if pa == pb || pa == reconcile.DefaultStatePath || pb == reconcile.DefaultStatePath || again != pa {
		t.Errorf("state paths: %s and %s (again %s); want one per namespace, none the default", pa, pb, again)
	}
	if filepath.Dir(pa) != filepath.Dir(reconcile.DefaultStatePath) {
		t.Errorf("state path %s is not beside %s", pa, reconcile.DefaultStatePath)
	}
}
