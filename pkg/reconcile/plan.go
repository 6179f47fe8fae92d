package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hala-lb/hala/pkg/ipvs"
)

// Action is what a Change does to the kernel's table.
type Action int

// Actions, in the order a plan applies them within one service.
const (
	Add Action = iota
	Update
	Delete
)

// String returns "add", "update" or "delete".
func (a Action) String() string {
	switch a {
	case Add:
		return "add"
	case Update:
		return "update"
	case Delete:
		return "delete"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Symbol returns "+", "~" or "-", as plans print them.
func (a Action) Symbol() string {
	switch a {
	case Add:
		return "+"
	case Update:
		return "~"
	case Delete:
		return "-"
	}
	return "?"
}

// Change is one kernel call: an Add, Update or Delete of a service, or of
// one destination of a service when Destination is not nil.
type Change struct {
	Action Action
	// Name is the service's inventory name, "" when unknown.
	Name string
	// Service is the desired service for Add and Update, the observed one
	// for Delete.
	Service ipvs.Service
	// Destination is the desired destination for Add and Update, the
	// observed one for Delete; nil for a change of the service itself.
	Destination *ipvs.Destination
	// Fields lists what an Update changes.
	Fields []Field
	// Removes is, for a service Delete, how many destinations go with it.
	Removes int
	// Reorder marks the Delete and Add that re-add an existing destination
	// of an ordered service (see Ordered) to put it back in order.
	Reorder bool
}

// Object returns "service" or "destination".
func (c Change) Object() string {
	if c.Destination != nil {
		return "destination"
	}
	return "service"
}

// String returns the plan line, e.g.
// "~ update destination syslog UDP 192.0.2.10:5514 -> 192.0.2.21:5514: weight 1 -> 2".
func (c Change) String() string {
	// Built without fmt: apply prints one line per change, thousands of
	// them for a big table.
	var b strings.Builder
	b.Grow(96)
	for _, part := range []string{c.Action.Symbol(), c.Action.String(), c.Object()} {
		b.WriteString(part)
		b.WriteByte(' ')
	}
	if c.Name != "" {
		b.WriteString(c.Name)
		b.WriteByte(' ')
	}
	if c.Destination == nil {
		if c.Action == Add {
			b.WriteString(c.Service.String())
		} else {
			b.WriteString(c.Service.Key().String())
		}
	} else {
		b.WriteString(c.Service.Key().String())
		b.WriteString(" -> ")
		if c.Action == Add {
			b.WriteString(c.Destination.String())
		} else {
			b.WriteString(c.Destination.Key().String())
		}
	}
	if len(c.Fields) > 0 {
		fs := make([]string, len(c.Fields))
		for i, f := range c.Fields {
			fs[i] = f.String()
		}
		b.WriteString(": " + strings.Join(fs, ", "))
	}
	if c.Removes > 0 {
		fmt.Fprintf(&b, " (and its %s)", plural(c.Removes, "destination"))
	}
	if c.Reorder {
		b.WriteString(" (re-added in order: " + c.Service.Scheduler + " builds its table in list order)")
	}
	return b.String()
}

// Shell returns the ipvsadm command that makes the same change, e.g.
// "ipvsadm -a -u 192.0.2.10:5514 -r 192.0.2.21:5514 -m -w 1".
func (c Change) Shell() string {
	if c.Destination == nil {
		switch c.Action {
		case Add:
			return "ipvsadm -A " + c.Service.IpvsadmArgs()
		case Update:
			return "ipvsadm -E " + c.Service.IpvsadmArgs()
		default:
			return "ipvsadm -D " + c.Service.IpvsadmKey()
		}
	}
	switch c.Action {
	case Add:
		return "ipvsadm -a " + c.Service.IpvsadmKey() + " " + c.Destination.IpvsadmArgs()
	case Update:
		return "ipvsadm -e " + c.Service.IpvsadmKey() + " " + c.Destination.IpvsadmArgs()
	default:
		return "ipvsadm -d " + c.Service.IpvsadmKey() + " -r " + c.Destination.Key().String()
	}
}

// MarshalJSON writes the change with its shell equivalent.
func (c Change) MarshalJSON() ([]byte, error) {
	type change struct {
		Action      string  `json:"action"`
		Object      string  `json:"object"`
		Name        string  `json:"name,omitempty"`
		Service     string  `json:"service"`
		Destination string  `json:"destination,omitempty"`
		Spec        string  `json:"spec"`
		Fields      []Field `json:"fields,omitempty"`
		Removes     int     `json:"removes_destinations,omitempty"`
		Reorder     bool    `json:"reorder,omitempty"`
		Ipvsadm     string  `json:"ipvsadm"`
	}
	out := change{
		Action:  c.Action.String(),
		Object:  c.Object(),
		Name:    c.Name,
		Service: c.Service.Key().String(),
		Spec:    c.Service.String(),
		Fields:  c.Fields,
		Removes: c.Removes,
		Reorder: c.Reorder,
		Ipvsadm: c.Shell(),
	}
	if c.Destination != nil {
		out.Destination = c.Destination.Key().String()
		out.Spec = c.Destination.String()
	}
	return json.Marshal(out)
}

// ServiceRef names a service a plan leaves alone.
type ServiceRef struct {
	Key  ipvs.ServiceKey
	Name string
}

// String returns "UDP 192.0.2.10:5514" or "old-syslog (UDP 192.0.2.10:5514)".
func (r ServiceRef) String() string {
	if r.Name == "" {
		return r.Key.String()
	}
	return r.Name + " (" + r.Key.String() + ")"
}

// MarshalJSON writes {"service": "...", "name": "..."}.
func (r ServiceRef) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Service string `json:"service"`
		Name    string `json:"name,omitempty"`
	}{r.Key.String(), r.Name})
}

// Plan is what it takes to make the kernel's table match the inventory.
type Plan struct {
	// Changes in the order Apply makes them: per service (sorted), the
	// service's own Add or Update, then destination Adds, Updates and
	// Deletes (each sorted); then the service Deletes of prune.
	Changes []Change
	// Foreign services are not hala's and are left alone.
	Foreign []ServiceRef
	// Kept are owned services missing from the inventory, kept because
	// prune is off.
	Kept []ServiceRef
	// Adopt are services in the inventory that already exist in the
	// kernel but that hala did not create (the state file does not record
	// them): keepalived's, ipvsadm's. Applying the plan takes them over,
	// which Execute does only when AdoptConfirmed is set.
	Adopt []ServiceRef
	// AdoptConfirmed allows Execute to take over the services in Adopt
	// (hala ipvs apply --adopt; Options.Adopt).
	AdoptConfirmed bool
	// Owned is the ownership to record once the plan is applied.
	Owned Owned

	// prior is the ownership the plan was computed with.
	prior Owned
}

// Empty reports whether the plan has nothing to do: no change to the
// kernel and no service to adopt.
func (p Plan) Empty() bool { return len(p.Changes) == 0 && len(p.Adopt) == 0 }

// Counts returns how many changes add, update and delete.
func (p Plan) Counts() (add, update, del int) {
	for _, c := range p.Changes {
		switch c.Action {
		case Add:
			add++
		case Update:
			update++
		case Delete:
			del++
		}
	}
	return add, update, del
}

// Summary returns the plan's last line, e.g.
// "Plan: 3 to add, 1 to update, 0 to delete." or "No changes: ...",
// followed by Notes.
func (p Plan) Summary() string {
	s := noChanges + "."
	if !p.Empty() {
		a, u, d := p.Counts()
		s = fmt.Sprintf("Plan: %d to add, %d to update, %d to delete.", a, u, d)
		if n := len(p.Adopt); n > 0 {
			s = fmt.Sprintf("Plan: %s to adopt (--adopt), %d to add, %d to update, %d to delete.", plural(n, "service"), a, u, d)
		}
	}
	return s + p.Notes()
}

// Notes says which services the plan leaves alone, each sentence with a
// leading space: " 1 owned service no longer in the inventory, kept
// (--prune deletes it). 2 foreign services left alone." ("" when none).
func (p Plan) Notes() string {
	var b strings.Builder
	if n := len(p.Kept); n > 0 {
		fmt.Fprintf(&b, " %s no longer in the inventory, kept (--prune deletes %s).", plural(n, "owned service"), pronoun(n))
	}
	if n := len(p.Foreign); n > 0 {
		fmt.Fprintf(&b, " %s left alone.", plural(n, "foreign service"))
	}
	return b.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func pronoun(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// AdoptLine returns the plan line for taking over r, e.g.
// "~ adopt service syslog UDP 192.0.2.10:5514 (not created by hala)".
func AdoptLine(r ServiceRef) string {
	name := ""
	if r.Name != "" {
		name = r.Name + " "
	}
	return "~ adopt service " + name + r.Key.String() + " (not created by hala)"
}

// WriteText prints one line per service to adopt, one per change, then
// Summary.
func (p Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, r := range p.Adopt {
		b.WriteString(AdoptLine(r))
		b.WriteByte('\n')
	}
	for _, c := range p.Changes {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	b.WriteString(p.Summary())
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// MarshalJSON writes the changes, counts, and the services left alone.
func (p Plan) MarshalJSON() ([]byte, error) {
	a, u, d := p.Counts()
	changes := p.Changes
	if changes == nil {
		changes = []Change{}
	}
	return json.Marshal(struct {
		Changes []Change     `json:"changes"`
		Add     int          `json:"add"`
		Update  int          `json:"update"`
		Delete  int          `json:"delete"`
		Adopt   []ServiceRef `json:"adopt,omitempty"`
		Kept    []ServiceRef `json:"kept,omitempty"`
		Foreign []ServiceRef `json:"foreign,omitempty"`
	}{changes, a, u, d, p.Adopt, p.Kept, p.Foreign})
}

// Diff compares the desired table with the observed one and returns the
// plan that converges them. owned lists the services hala manages besides
// the desired ones (the state file); prune deletes those of them that are
// no longer desired. Observed services neither desired nor owned are
// foreign: the plan never touches them or their destinations.
func Diff(desired, observed Table, owned Owned, prune bool) Plan {
	desired, observed = sorted(desired), sorted(observed)
	obsIdx := observed.index()
	desIdx := desired.index()
	p := Plan{Owned: make(Owned, len(desired)), prior: owned.clone()}
	// Room for every service to add and its destinations, known up front:
	// an apply from an empty table plans thousands of changes, and growing
	// the slice step by step would copy them over and over.
	adds := 0
	for _, want := range desired {
		if _, ok := obsIdx[want.Service.Key()]; !ok {
			adds += 1 + len(want.Destinations)
		}
	}
	p.Changes = make([]Change, 0, adds)

	for _, want := range desired {
		key := want.Service.Key()
		p.Owned[key] = want.Name
		i, ok := obsIdx[key]
		if !ok {
			p.Changes = append(p.Changes, Change{Action: Add, Name: want.Name, Service: want.Service})
			if Ordered(want.Service.Scheduler) {
				p.Changes = append(p.Changes, orderChanges(want, Entry{Service: want.Service})...)
				continue
			}
			for _, d := range want.Destinations {
				p.Changes = append(p.Changes, destChange(Add, want, d, nil))
			}
			continue
		}
		have := observed[i]
		if !owned.Has(key) {
			p.Adopt = append(p.Adopt, ServiceRef{Key: key, Name: want.Name})
		}
		if fs := serviceFields(have.Service, want.Service); len(fs) > 0 {
			p.Changes = append(p.Changes, Change{Action: Update, Name: want.Name, Service: want.Service, Fields: fs})
		}
		if Ordered(want.Service.Scheduler) {
			p.Changes = append(p.Changes, orderChanges(want, have)...)
			continue
		}
		// Both lists are sorted by key: walk them side by side.
		var adds, updates, deletes []Change
		hd, wd := have.Destinations, want.Destinations
		for len(hd) > 0 || len(wd) > 0 {
			c := 0
			switch {
			case len(hd) == 0:
				c = 1
			case len(wd) == 0:
				c = -1
			default:
				c = hd[0].Key().Compare(wd[0].Key())
			}
			switch {
			case c < 0:
				deletes = append(deletes, destChange(Delete, want, hd[0], nil))
				hd = hd[1:]
			case c > 0:
				adds = append(adds, destChange(Add, want, wd[0], nil))
				wd = wd[1:]
			default:
				if fs := destinationFields(hd[0], wd[0]); len(fs) > 0 {
					updates = append(updates, destChange(Update, want, wd[0], fs))
				}
				hd, wd = hd[1:], wd[1:]
			}
		}
		p.Changes = append(p.Changes, adds...)
		p.Changes = append(p.Changes, updates...)
		p.Changes = append(p.Changes, deletes...)
	}

	for _, have := range observed {
		key := have.Service.Key()
		if _, ok := desIdx[key]; ok {
			continue
		}
		name, isOwned := owned[key]
		ref := ServiceRef{Key: key, Name: name}
		switch {
		case !isOwned:
			p.Foreign = append(p.Foreign, ref)
		case prune:
			p.Changes = append(p.Changes, Change{Action: Delete, Name: name, Service: have.Service, Removes: len(have.Destinations)})
		default:
			p.Kept = append(p.Kept, ref)
			p.Owned[key] = name
		}
	}
	// Owned services that are gone from the kernel and the inventory are
	// forgotten: if another tool later creates the same service, it is
	// that tool's.
	return p
}

func destChange(a Action, e Entry, d ipvs.Destination, fs []Field) Change {
	return Change{Action: a, Name: e.Name, Service: e.Service, Destination: &d, Fields: fs}
}

// sorted returns t sorted, t itself when it already is (Desired and
// Observe sort), else a sorted copy: the caller's table is not changed.
func sorted(t Table) Table {
	byKey := func(a, b Entry) int { return a.Service.Key().Compare(b.Service.Key()) }
	isSorted := slices.IsSortedFunc(t, byKey)
	for i := 0; isSorted && i < len(t); i++ {
		isSorted = slices.IsSortedFunc(t[i].Destinations, func(a, b ipvs.Destination) int { return a.Key().Compare(b.Key()) })
	}
	if isSorted {
		return t
	}
	out := make(Table, len(t))
	for i, e := range t {
		e.Destinations = append([]ipvs.Destination(nil), e.Destinations...)
		out[i] = e
	}
	out.sort()
	return out
}

// ApplyError says where Apply stopped: what it had already applied, the
// change that failed, and how many were not attempted.
type ApplyError struct {
	Applied []Change
	Failed  Change
	// NotAttempted counts the changes after Failed that were not sent.
	NotAttempted int
	Err          error
	// Others are changes after Failed that failed too. Apply pipelines
	// (see ipvs.Handle.Batch): it sends a batch of changes at once, so the changes of
	// Failed's batch that follow it were made, or failed, all the same:
	// Applied holds those made, Others those that failed.
	Others []Failure
}

// Failure is a change the kernel refused, and why.
type Failure struct {
	Change Change
	Err    error
}

// String returns the change and the cause.
func (f Failure) String() string { return f.Change.String() + ": " + f.Err.Error() }

// Error returns "apply stopped after 3 of 7 changes: <cause>".
func (e *ApplyError) Error() string {
	total := len(e.Applied) + 1 + len(e.Others) + e.NotAttempted
	return fmt.Sprintf("apply stopped after %d of %d changes: %v", len(e.Applied), total, e.Err)
}

// Unwrap returns the cause.
func (e *ApplyError) Unwrap() error { return e.Err }

// batchSize is how many changes a pipelined Apply hands the target at a
// time, between progress reports.
const batchSize = 1024

// Apply makes the plan's changes on target, in order, and calls progress
// (when not nil) for each one that succeeded. It stops after the first
// failed batch and returns an *ApplyError. It never reads the table: the
// plan is executed exactly as computed. The changes go to target.Batch
// batchSize at a time, pipelined.
func Apply(ctx context.Context, plan Plan, target Target, progress func(Change)) ([]Change, error) {
	changes := plan.Changes
	applied := make([]Change, 0, len(changes))
	reqs := make([]ipvs.Request, 0, min(batchSize, len(changes)))
	for start := 0; start < len(changes); start += batchSize {
		if err := ctx.Err(); err != nil {
			return applied, &ApplyError{Applied: applied, Failed: changes[start], NotAttempted: len(changes) - start - 1, Err: err}
		}
		chunk := changes[start:min(start+batchSize, len(changes))]
		reqs = reqs[:0]
		for _, c := range chunk {
			reqs = append(reqs, request(c))
		}
		results := target.Batch(ctx, reqs)
		var ae *ApplyError
		for i, c := range chunk {
			err := results[i]
			switch {
			case err == nil:
				applied = append(applied, c)
				if progress != nil {
					progress(c)
				}
			case errors.Is(err, ipvs.ErrNotAttempted):
			case ae == nil:
				ae = &ApplyError{Failed: c, Err: err}
			default:
				ae.Others = append(ae.Others, Failure{Change: c, Err: err})
			}
		}
		if ae != nil {
			ae.Applied = applied
			ae.NotAttempted = len(changes) - len(applied) - 1 - len(ae.Others)
			return applied, ae
		}
	}
	return applied, nil
}

// request turns a change into the kernel request that makes it.
func request(c Change) ipvs.Request {
	r := ipvs.Request{Service: c.Service}
	if c.Destination != nil {
		r.Destination = *c.Destination
		r.Op = [...]ipvs.Op{Add: ipvs.OpAddDestination, Update: ipvs.OpUpdateDestination, Delete: ipvs.OpDeleteDestination}[c.Action]
	} else {
		r.Op = [...]ipvs.Op{Add: ipvs.OpAddService, Update: ipvs.OpUpdateService, Delete: ipvs.OpDeleteService}[c.Action]
	}
	return r
}
