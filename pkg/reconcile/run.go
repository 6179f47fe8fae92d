package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/ipvs"
)

// Options says how Run (and Prepare) computes a plan and carries it out.
type Options struct {
	// Node is the director the plan is for ("" = any: every director
	// carries the same table).
	Node string
	// Prune deletes owned services that are no longer in the inventory.
	Prune bool
	// StatePath is the ownership state file ("" = DefaultStatePath).
	StatePath string
	// Adopt lets the plan take over existing kernel services at the
	// inventory's keys that hala did not create (Plan.AdoptConfirmed).
	Adopt bool

	// DryRun makes Run stop after the plan: no kernel write, no state file
	// written (hala ipvs plan, apply --dry-run).
	DryRun bool
	// Adjust, when set, edits the desired table before it is compared with
	// the kernel's, and returns the table to converge on: a resident
	// director drops the destinations its health checks failed, or sets
	// their weights. It may change the table it is given. A service it
	// drops counts as gone from the inventory (kept, or deleted with Prune);
	// one it adds becomes owned.
	Adjust func(Table) Table
	// Desired, when set, is the desired table already computed from this
	// inventory by Desired (a resident director keeps it between runs, so
	// each repair need not compute it again); Adjust still applies.
	Desired Table
	// Progress, when set, is called for each change as it is made.
	Progress func(Change)
	// Phase, when set, is called as each step of Run ends (for timings).
	Phase func(Phase)
}

// Phase is a step of Run, reported to Options.Phase when it ends.
type Phase int

// Run's steps, in order.
const (
	// PhaseDesired: the inventory's table is computed (and adjusted).
	PhaseDesired Phase = iota
	// PhasePlan: the state file and the kernel's table are read and
	// compared; the plan is known.
	PhasePlan
	// PhaseApply: the plan is executed and the state file written. Not
	// reported for DryRun or a refused adoption.
	PhaseApply
)

// String returns "desired", "plan" or "apply".
func (p Phase) String() string {
	switch p {
	case PhaseDesired:
		return "desired"
	case PhasePlan:
		return "plan"
	case PhaseApply:
		return "apply"
	}
	return fmt.Sprintf("phase(%d)", int(p))
}

func (o Options) phase(p Phase) {
	if o.Phase != nil {
		o.Phase(p)
	}
}

// State returns the ownership state file's path.
func (o Options) State() string {
	if o.StatePath == "" {
		return DefaultStatePath
	}
	return o.StatePath
}

// Prepare computes the plan for inv: the desired table, the ownership
// state and the kernel's table read through target. It changes nothing.
// The inventory is checked before the kernel is read.
func Prepare(ctx context.Context, inv *inventory.Inventory, target Target, opts Options) (Plan, error) {
	desired, err := Desired(inv, opts.Node)
	if err != nil {
		return Plan{}, err
	}
	return PrepareTable(ctx, desired, target, opts)
}

// PrepareTable is Prepare for a desired table the caller already has from
// Desired (opts.Node is not used).
func PrepareTable(ctx context.Context, desired Table, target Target, opts Options) (Plan, error) {
	owned, err := LoadOwned(opts.State())
	if err != nil {
		return Plan{}, err
	}
	observed, err := Observe(ctx, target)
	if err != nil {
		return Plan{}, err
	}
	p := Diff(desired, observed, owned, opts.Prune)
	p.AdoptConfirmed = opts.Adopt
	return p, nil
}

// Result is what Run did.
type Result struct {
	// Plan is the plan Run computed, carried out unless Options.DryRun.
	Plan Plan
	// Applied are the changes made, in plan order.
	Applied []Change
	// Failure, when the kernel refused a change, says which, and what was
	// applied, failed or not attempted; Run's error is the same value.
	Failure *ApplyError
	// Writes is how many requests that change the table Run sent, when the
	// target counts them (as ipvs.Handle.Writes does); else 0.
	Writes uint64
}

// writeCounter is a Target that counts its writes (*ipvs.Handle).
type writeCounter interface{ Writes() uint64 }

// Run converges target on inv: it computes the desired table (Desired,
// then opts.Adjust), reads the ownership state and the kernel's table,
// plans (Diff), refuses a plan that would take over services hala did not
// create unless opts.Adopt is set (an *AdoptError, nothing changed), and
// executes the plan (Execute) unless opts.DryRun. The inventory is
// checked before the kernel is read. hala ipvs plan and apply call it, and
// so does a resident director for its start-up apply and drift repair:
// nothing here keeps state between calls.
//
// On error the Result still holds what is known: the plan once computed,
// the changes applied and, when the kernel refused one, Failure.
func Run(ctx context.Context, inv *inventory.Inventory, target Target, opts Options) (Result, error) {
	desired := opts.Desired
	if desired == nil {
		var err error
		if desired, err = Desired(inv, opts.Node); err != nil {
			return Result{}, err
		}
	}
	if opts.Adjust != nil {
		desired = opts.Adjust(desired)
	}
	opts.phase(PhaseDesired)
	plan, err := PrepareTable(ctx, desired, target, opts)
	if err != nil {
		return Result{}, err
	}
	opts.phase(PhasePlan)
	res := Result{Plan: plan}
	if opts.DryRun {
		return res, nil
	}
	var before uint64
	wc, counts := target.(writeCounter)
	if counts {
		before = wc.Writes()
	}
	res.Applied, err = Execute(ctx, plan, target, opts.State(), opts.Progress)
	if counts {
		res.Writes = wc.Writes() - before
	}
	var refused *AdoptError
	if errors.As(err, &refused) {
		return res, err
	}
	opts.phase(PhaseApply)
	errors.As(err, &res.Failure)
	return res, err
}

// noChanges starts the summary of a plan, or an apply, that changes nothing.
const noChanges = "No changes: the IPVS table matches the inventory"

// Summary returns apply's last line, with the plan's Notes:
// "Applied: 3 added, 0 updated, 0 deleted (3 netlink writes)." or
// "No changes: the IPVS table matches the inventory (0 netlink writes)."
// after success; "Stopped: 3 of 6 changes applied, 1 failed, 2 not
// attempted (4 netlink writes)." after a Failure.
func (r Result) Summary() string {
	if f := r.Failure; f != nil {
		return fmt.Sprintf("Stopped: %d of %d changes applied, %d failed, %d not attempted (%d netlink writes).",
			len(f.Applied), len(r.Plan.Changes), 1+len(f.Others), f.NotAttempted, r.Writes)
	}
	if len(r.Applied) == 0 {
		return fmt.Sprintf("%s (%d netlink writes).%s", noChanges, r.Writes, r.Plan.Notes())
	}
	a, u, d := r.Plan.Counts()
	return fmt.Sprintf("Applied: %d added, %d updated, %d deleted (%d netlink writes).%s", a, u, d, r.Writes, r.Plan.Notes())
}

// WriteText prints what apply prints after the changes it made: after a
// Failure, a "! failed: CHANGE: CAUSE" line per failed change; after
// success, an "adopted service" line per service taken over; then Summary.
func (r Result) WriteText(w io.Writer) error {
	var b strings.Builder
	if f := r.Failure; f != nil {
		b.WriteString("! failed: " + f.Failed.String() + "\n")
		for _, o := range f.Others {
			b.WriteString("! failed: " + o.String() + "\n")
		}
	} else {
		for _, ref := range r.Plan.Adopt {
			b.WriteString("adopted service " + ref.String() + "\n")
		}
	}
	b.WriteString(r.Summary() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// ErrAdopt is wrapped by the *AdoptError of Execute and Run.
var ErrAdopt = errors.New("would take over services hala did not create")

// AdoptError refuses a plan that would take over services hala did not
// create (Plan.Adopt) without Plan.AdoptConfirmed: nothing was changed.
type AdoptError struct {
	Services []ServiceRef
}

// Error returns "would take over services hala did not create: NAME (KEY), ...".
func (e *AdoptError) Error() string {
	keys := make([]string, len(e.Services))
	for i, r := range e.Services {
		keys[i] = r.String()
	}
	return ErrAdopt.Error() + ": " + strings.Join(keys, ", ")
}

// Unwrap returns ErrAdopt.
func (e *AdoptError) Unwrap() error { return ErrAdopt }

// Execute applies plan to target (see Apply) and keeps the ownership state
// file at statePath true throughout: before the first change it records
// every service the plan will own as well as those owned before, so an
// interruption never forgets a service hala created; afterwards it records
// plan.Owned. When Apply fails, the state keeps everything that was not
// deleted, and a re-run converges. The state file is rewritten only when
// its contents change. A plan with services to adopt is refused with an
// *AdoptError, changing nothing, unless plan.AdoptConfirmed is set.
func Execute(ctx context.Context, plan Plan, target Target, statePath string, progress func(Change)) ([]Change, error) {
	if statePath == "" {
		statePath = DefaultStatePath
	}
	if len(plan.Adopt) > 0 && !plan.AdoptConfirmed {
		return nil, &AdoptError{Services: plan.Adopt}
	}
	if plan.Empty() && maps.Equal(plan.prior, plan.Owned) {
		return nil, nil // nothing to change, nothing new to record
	}
	during := plan.prior.union(plan.Owned)
	if !plan.Empty() {
		if _, err := SaveOwned(statePath, during); err != nil {
			return nil, err
		}
	}
	applied, err := Apply(ctx, plan, target, progress)
	after := plan.Owned
	if err != nil {
		after = during
		for _, c := range applied {
			if c.Action == Delete && c.Destination == nil {
				delete(after, c.Service.Key())
			}
		}
	}
	if _, serr := SaveOwned(statePath, after); serr != nil && err == nil {
		err = serr
	}
	return applied, err
}

// Show reads the kernel's table and names its services in the inventory's
// terms: Name from inv (may be nil) or the ownership state, and Owned set
// for the services hala manages. Every other service is foreign.
func Show(ctx context.Context, target Target, inv *inventory.Inventory, owned Owned) (Table, error) {
	var desired Table
	if inv != nil {
		var err error
		if desired, err = Desired(inv, ""); err != nil {
			return nil, err
		}
	}
	observed, err := Observe(ctx, target)
	if err != nil {
		return nil, err
	}
	idx := desired.index()
	for i := range observed {
		key := observed[i].Service.Key()
		if j, ok := idx[key]; ok {
			observed[i].Name, observed[i].Owned = desired[j].Name, true
		} else if name, ok := owned[key]; ok {
			observed[i].Name, observed[i].Owned = name, true
		}
	}
	return observed, nil
}

// WriteText prints the table like ipvsadm -Ln --stats: one line per
// service, then one per destination, with counters and who owns the
// service ("hala" or "foreign").
func (t Table) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Prot\tLocalAddress:Port\tScheduler\tFlags\tConns\tInPkts\tOutPkts\tInBytes\tOutBytes\tOwner")
	fmt.Fprintln(tw, "  ->\tRemoteAddress:Port\tForward\tWeight\t\t\t\t\t\tActiveConn/InActConn")
	for _, e := range t {
		s := e.Service
		owner := "foreign"
		if e.Owned {
			owner = "hala"
			if e.Name != "" {
				owner += " (" + e.Name + ")"
			}
		}
		addr := s.Key().AddrPort.String()
		if s.FWMark != 0 {
			addr = strconv.FormatUint(uint64(s.FWMark), 10)
		}
		flags := s.Flags.String()
		if s.Flags&ipvs.FlagPersistent != 0 {
			flags += " " + strconv.FormatUint(uint64(s.Timeout), 10) + "s"
		}
		st := s.Stats
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n",
			s.Protocol, addr, s.Scheduler, flags,
			st.Connections, st.PacketsIn, st.PacketsOut, st.BytesIn, st.BytesOut, owner)
		for _, d := range e.Destinations {
			st := d.Stats
			fmt.Fprintf(tw, "  ->\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d/%d\n",
				d.Key(), d.Forwarding, d.Weight,
				st.Connections, st.PacketsIn, st.PacketsOut, st.BytesIn, st.BytesOut, d.ActiveConns, d.InactiveConns)
		}
	}
	return tw.Flush()
}

// MarshalJSON writes the entry with every kernel field and counter.
func (e Entry) MarshalJSON() ([]byte, error) {
	type dest struct {
		Address        string     `json:"address"`
		Port           uint16     `json:"port"`
		Forwarding     string     `json:"forwarding"`
		Weight         int        `json:"weight"`
		UpperThreshold uint32     `json:"upper_threshold"`
		LowerThreshold uint32     `json:"lower_threshold"`
		ActiveConns    int        `json:"active_conns"`
		InactiveConns  int        `json:"inactive_conns"`
		Stats          ipvs.Stats `json:"stats"`
	}
	s := e.Service
	owner := "foreign"
	if e.Owned {
		owner = "hala"
	}
	out := struct {
		Service      string     `json:"service"`
		Name         string     `json:"name,omitempty"`
		Owner        string     `json:"owner"`
		Protocol     string     `json:"protocol"`
		Address      string     `json:"address"`
		Port         uint16     `json:"port"`
		FWMark       uint32     `json:"fwmark,omitempty"`
		Scheduler    string     `json:"scheduler"`
		Flags        string     `json:"flags"`
		Timeout      uint32     `json:"timeout"`
		Netmask      string     `json:"netmask"`
		Stats        ipvs.Stats `json:"stats"`
		Destinations []dest     `json:"destinations"`
	}{
		Service:      s.Key().String(),
		Name:         e.Name,
		Owner:        owner,
		Protocol:     s.Protocol.String(),
		Address:      s.Address.String(),
		Port:         s.Port,
		FWMark:       s.FWMark,
		Scheduler:    s.Scheduler,
		Flags:        s.Flags.String(),
		Timeout:      s.Timeout,
		Netmask:      netmask(s),
		Stats:        s.Stats,
		Destinations: []dest{},
	}
	for _, d := range e.Destinations {
		out.Destinations = append(out.Destinations, dest{
			Address: d.Address.String(), Port: d.Port, Forwarding: d.Forwarding.String(), Weight: d.Weight,
			UpperThreshold: d.UpperThreshold, LowerThreshold: d.LowerThreshold,
			ActiveConns: d.ActiveConns, InactiveConns: d.InactiveConns, Stats: d.Stats,
		})
	}
	return json.Marshal(out)
}
