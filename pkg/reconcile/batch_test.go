package reconcile_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/reconcile"
)

// batcher is the fake table with a Batch method that behaves like the
// kernel behind ipvs.Handle.Batch: it makes every request of a batch in
// order, going on after a failure, and sends nothing more after a batch
// with a failure. A batch ends after a service Add or Update.
type batcher struct {
	*fake
	batches [][]string // the requests of each batch, as the recorder logs them
}

func (b *batcher) Batch(ctx context.Context, reqs []ipvs.Request) []error {
	errs := make([]error, len(reqs))
	for i := range errs {
		errs[i] = ipvs.ErrNotAttempted
	}
	for i := 0; i < len(reqs); {
		failed := false
		var sent []string
		for ; i < len(reqs); i++ {
			r := reqs[i]
			errs[i] = b.do(r)
			sent = append(sent, call(r))
			failed = failed || errs[i] != nil
			if r.Op == ipvs.OpAddService || r.Op == ipvs.OpUpdateService {
				i++
				break
			}
		}
		b.batches = append(b.batches, sent)
		if failed {
			break
		}
	}
	return errs
}

// Apply hands the target the plan's changes as kernel requests, in plan
// order; the kernel splits them into pipelined batches.
func TestApplyBatchedMakesThePlan(t *testing.T) {
	b := &batcher{fake: newFake()}
	opts := tempState(t)
	plan := prepare(t, baseInventory, b, opts)
	applied, err := reconcile.Execute(ctx, plan, b, opts.State(), nil)
	if err != nil || len(applied) != 6 {
		t.Fatalf("apply: %d applied, %v", len(applied), err)
	}
	want := [][]string{
		{"AddService TCP 10.0.0.100:5044"},
		{"AddDestination TCP 10.0.0.100:5044 10.0.0.11:5044", "AddDestination TCP 10.0.0.100:5044 10.0.0.12:5044", "AddService UDP 10.0.0.100:5514"},
		{"AddDestination UDP 10.0.0.100:5514 10.0.0.11:5514", "AddDestination UDP 10.0.0.100:5514 10.0.0.12:5514"},
	}
	if !slices.EqualFunc(b.batches, want, slices.Equal) {
		t.Errorf("batches %q, want %q", b.batches, want)
	}
	if p := prepare(t, baseInventory, b, opts); !p.Empty() {
		t.Errorf("not converged:\n%s", planText(t, p))
	}
}

// When a change in a pipelined batch fails, the changes after it in the
// same batch were made anyway: the error reports each one as applied or
// failed, counts the rest as not attempted, and a re-run converges.
func TestApplyBatchedReportsEveryChangeOfTheFailedBatch(t *testing.T) {
	b := &batcher{fake: newFake()}
	opts := tempState(t)
	boom, bang := errors.New("boom"), errors.New("bang")
	b.fail = func(call string) error {
		switch call {
		case "AddDestination TCP 10.0.0.100:5044 10.0.0.11:5044":
			return boom
		case "AddService UDP 10.0.0.100:5514":
			return bang
		}
		return nil
	}
	plan := prepare(t, baseInventory, b, opts)
	var progressed []string
	applied, err := reconcile.Execute(ctx, plan, b, opts.State(), func(c reconcile.Change) { progressed = append(progressed, c.String()) })
	var ae *reconcile.ApplyError
	if !errors.As(err, &ae) || !errors.Is(err, boom) {
		t.Fatalf("err = %v, want an *ApplyError wrapping the first failure", err)
	}
	wantApplied := []string{
		"+ add service beats TCP 10.0.0.100:5044 wlc persistent 300",
		"+ add destination beats TCP 10.0.0.100:5044 -> 10.0.0.12:5044 Masq weight 3",
	}
	got := make([]string, len(applied))
	for i, c := range applied {
		got[i] = c.String()
	}
	if !slices.Equal(got, wantApplied) || !slices.Equal(progressed, wantApplied) || len(ae.Applied) != 2 {
		t.Errorf("applied %q (progress %q), want %q", got, progressed, wantApplied)
	}
	if ae.Failed.String() != "+ add destination beats TCP 10.0.0.100:5044 -> 10.0.0.11:5044 Masq weight 3" ||
		len(ae.Others) != 1 || !errors.Is(ae.Others[0].Err, bang) ||
		ae.Others[0].String() != "+ add service syslog-udp UDP 10.0.0.100:5514 rr ops: bang" || ae.NotAttempted != 2 {
		t.Errorf("failed %q, others %v, not attempted %d", ae.Failed, ae.Others, ae.NotAttempted)
	}
	if got := err.Error(); got != "apply stopped after 2 of 6 changes: boom" {
		t.Errorf("error = %q", got)
	}
	if n := len(b.batches); n != 2 {
		t.Errorf("%d batches sent, want 2 (none after the failed one)", n)
	}

	b.fail = nil
	plan = prepare(t, baseInventory, b, opts)
	if a, u, d := plan.Counts(); a != 4 || u != 0 || d != 0 {
		t.Errorf("re-run plan:\n%s\nwant the 4 remaining adds", planText(t, plan))
	}
	converge(t, baseInventory, b, opts)
	if p := prepare(t, baseInventory, b, opts); !p.Empty() {
		t.Errorf("not converged:\n%s", planText(t, p))
	}
}
