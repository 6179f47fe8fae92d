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

// Options says how Prepare computes a plan.
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

// ErrAdopt is returned by Execute for a plan that would take over services
// hala did not create without AdoptConfirmed.
var ErrAdopt = errors.New("would take over services hala did not create")

// Execute applies plan to target (see Apply) and keeps the ownership state
// file at statePath true throughout: before the first change it records
// every service the plan will own as well as those owned before, so an
// interruption never forgets a service hala created; afterwards it records
// plan.Owned. When Apply fails, the state keeps everything that was not
// deleted, and a re-run converges. The state file is rewritten only when
// its contents change. A plan with services to adopt is refused, wrapping
// ErrAdopt and changing nothing, unless plan.AdoptConfirmed is set.
func Execute(ctx context.Context, plan Plan, target Target, statePath string, progress func(Change)) ([]Change, error) {
	if statePath == "" {
		statePath = DefaultStatePath
	}
	if len(plan.Adopt) > 0 && !plan.AdoptConfirmed {
		keys := make([]string, len(plan.Adopt))
		for i, r := range plan.Adopt {
			keys[i] = r.String()
		}
		return nil, fmt.Errorf("%w: %s", ErrAdopt, strings.Join(keys, ", "))
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
