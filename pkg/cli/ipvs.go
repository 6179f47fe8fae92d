package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/reconcile"
)

// progressEvery bounds how long apply holds printed changes in its buffer.
const progressEvery = 100 * time.Millisecond

// exitPending is hala ipvs plan's exit status when changes are pending
// (like terraform plan -detailed-exitcode).
const exitPending = 2

type ipvsFlags struct {
	inventory string
	node      string
	prune     bool
	dryRun    bool
	state     string
	netns     string
	output    string
	adopt     bool
	timings   bool
}

func newIPVSCommand(streams IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ipvs",
		Short: "Program the kernel's IPVS table from the inventory: plan, apply, show",
		Long: `Converge the kernel's IPVS table on the inventory over netlink, without
keepalived: one virtual service per [[service]] on its VIP, one real server
per backend. Every director carries the same table, so --node only checks
that the name is a [[director]].

hala changes only services it owns: those in the inventory, and those it
managed before (recorded in the state file, default ` + reconcile.DefaultStatePath + `;
with --netns, one file per namespace: ipvs-owned-netns-INODE.json beside it).
A service in the inventory that exists but was not created by hala is
taken over only with apply --adopt.
Other services (kube-proxy's, docker's, hand-made ones) and their real servers
are never touched. apply --prune deletes owned services that are no longer in
the inventory.`,
		Example: `  hala ipvs plan -i /etc/hala/inventory.toml
  hala ipvs apply -i /etc/hala/inventory.toml --prune
  hala ipvs show -i /etc/hala/inventory.toml`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newIPVSPlanCommand(streams), newIPVSApplyCommand(streams), newIPVSShowCommand(streams))
	return cmd
}

func addIPVSFlags(cmd *cobra.Command, f *ipvsFlags, withInventory bool) {
	if withInventory {
		cmd.Flags().StringVarP(&f.inventory, "inventory", "i", "", "inventory `FILE` (TOML)")
		cmd.Flags().StringVar(&f.node, "node", "", "director `NAME` to plan for (optional: every director carries the same table)")
		cmd.Flags().BoolVar(&f.timings, "timings", false, "print to stderr how long each phase took (inventory load, kernel read, plan, kernel write)")
	}
	cmd.Flags().StringVar(&f.state, "state", "", "ownership state `FILE` (default "+reconcile.DefaultStatePath+"; with --netns one per namespace, ipvs-owned-netns-INODE.json)")
	cmd.Flags().StringVar(&f.netns, "netns", "", "network namespace `PATH` to act in, e.g. /run/netns/NAME (default: the current one)")
}

func newIPVSPlanCommand(streams IOStreams) *cobra.Command {
	f := &ipvsFlags{}
	cmd := &cobra.Command{
		Use:   "plan -i FILE [--node NAME] [--prune] [-o text|json|shell]",
		Short: "Show what apply would change; exit 0 if nothing, 2 if changes are pending",
		Long: `Read the kernel's IPVS table, compare it with the inventory, and print a
sorted plan: "+ add", "~ update" (with the fields that differ) and "- delete"
lines, then a summary. Only kernel fields are compared (scheduler, flags,
persistence, forwarding method, weight, thresholds), never counters.

Services in the inventory that exist in the kernel but that hala did not
create are listed as "~ adopt service ... (not created by hala)": apply
takes them over only with --adopt.

Exit status: 0 nothing to do, 2 changes pending, 1 error.
-o json prints the same plan as JSON; -o shell prints the ipvsadm commands
that would make the same changes.`,
		Example: `  hala ipvs plan -i /etc/hala/inventory.toml
  hala ipvs plan -i /etc/hala/inventory.toml --prune -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runIPVSPlan(cmd.Context(), streams, f)
		},
	}
	addIPVSFlags(cmd, f, true)
	cmd.Flags().BoolVar(&f.prune, "prune", false, "also plan deleting owned services no longer in the inventory")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output `FORMAT`: text, json or shell")
	_ = cmd.MarkFlagRequired("inventory")
	return cmd
}

func newIPVSApplyCommand(streams IOStreams) *cobra.Command {
	f := &ipvsFlags{}
	cmd := &cobra.Command{
		Use:   "apply -i FILE [--node NAME] [--prune] [--dry-run] [--adopt] [--state FILE]",
		Short: "Make the kernel's IPVS table match the inventory, printing each change",
		Long: `Compute the plan (see hala ipvs plan) and execute exactly it, one netlink
request per change (pipelined: many per round trip), printing each change as
it is made. A setting that can be
changed in place is updated, never deleted and re-added, so connections and
counters survive. When the table already matches, apply sends no write.

On error apply stops, says what it already changed and what failed, and
exits 1; running it again converges. --dry-run prints the plan and changes
nothing.

A service at an inventory address that exists in the kernel but was not
created by hala ("~ adopt" in the plan) is taken over only with --adopt;
without it apply changes nothing and exits 1. Never run hala ipvs apply on a
director where keepalived manages the same virtual_server: it would re-add
the real servers keepalived removed for failing their health check.`,
		Example: `  hala ipvs apply -i /etc/hala/inventory.toml
  hala ipvs apply -i /etc/hala/inventory.toml --prune`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runIPVSApply(cmd.Context(), streams, f)
		},
	}
	addIPVSFlags(cmd, f, true)
	cmd.Flags().BoolVar(&f.prune, "prune", false, "delete owned services no longer in the inventory")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "print the plan, change nothing")
	cmd.Flags().BoolVar(&f.adopt, "adopt", false, "take over existing services at the inventory's addresses that hala did not create")
	_ = cmd.MarkFlagRequired("inventory")
	return cmd
}

func newIPVSShowCommand(streams IOStreams) *cobra.Command {
	f := &ipvsFlags{}
	cmd := &cobra.Command{
		Use:   "show [-i FILE] [-o text|json]",
		Short: "Print the kernel's IPVS table with counters, naming hala's services",
		Long: `Print every IPVS service and real server with its counters, like
ipvsadm -Ln --stats. Services hala owns are marked "hala" with their
inventory name (given -i, or from the state file); all others "foreign".`,
		Example: `  hala ipvs show -i /etc/hala/inventory.toml
  hala ipvs show -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runIPVSShow(cmd.Context(), streams, f)
		},
	}
	addIPVSFlags(cmd, f, false)
	cmd.Flags().StringVarP(&f.inventory, "inventory", "i", "", "inventory `FILE` (TOML) naming the services (optional)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output `FORMAT`: text or json")
	return cmd
}

// openIPVS opens the IPVS handle, with a hint for the usual failures.
func openIPVS(netns string) (*ipvs.Handle, error) {
	h, err := ipvs.New(netns)
	switch {
	case err == nil:
		return h, nil
	case errors.Is(err, ipvs.ErrNotNamespace) || errors.Is(err, fs.ErrNotExist):
		return nil, netnsHint(err)
	case errors.Is(err, ipvs.ErrUnsupported) && runtime.GOOS != "linux":
		return nil, withHint(err, "run hala ipvs on a Linux director")
	case errors.Is(err, ipvs.ErrUnsupported):
		return nil, withHint(err, "load the IPVS kernel module: modprobe ip_vs")
	case errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES):
		return nil, withHint(err, "reading and changing IPVS needs root (CAP_NET_ADMIN)")
	}
	return nil, err
}

// ipvsHint adds what to try to a kernel error that has no hint yet.
func ipvsHint(err error) error {
	if h := (*hintError)(nil); errors.As(err, &h) {
		return err
	}
	var sched string
	if errors.Is(err, ipvs.ErrNoScheduler) {
		if _, after, ok := strings.Cut(err.Error(), "kernel module "); ok {
			sched, _, _ = strings.Cut(after, " ")
		}
		if sched == "" {
			sched = "ip_vs_SCHEDULER"
		}
		return withHint(err, "load the scheduler's module (modprobe "+sched+") or pick another scheduler, then run apply again")
	}
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return withHint(err, "changing IPVS needs root (CAP_NET_ADMIN)")
	}
	return err
}

// resolveState sets f.state to the default for f.netns when not given: one
// state file per network namespace, so ownership recorded in one namespace
// never makes hala prune or adopt in another.
func resolveState(f *ipvsFlags) error {
	if f.state != "" {
		return nil
	}
	p, err := reconcile.StatePathFor(f.netns)
	if err != nil {
		return netnsHint(err)
	}
	f.state = p
	return nil
}

// netnsUsage is the hint for a --netns path that is not a namespace.
const netnsUsage = "--netns takes a network namespace: /run/netns/NAME (ip netns list names them) or /proc/PID/ns/net"

// netnsHint adds what --netns takes to an error about its path.
func netnsHint(err error) error {
	if errors.Is(err, ipvs.ErrNotNamespace) || errors.Is(err, fs.ErrNotExist) {
		return withHint(err, netnsUsage)
	}
	return err
}

// runIPVS loads the inventory and hands it to reconcile.Run with the
// kernel's table of f.netns, opened only once the inventory checked out.
func runIPVS(ctx context.Context, streams IOStreams, f *ipvsFlags, opts reconcile.Options) (reconcile.Result, error) {
	// --timings reports runs that got as far as a plan.
	timer, planned := newPhaseTimer(), false
	defer func() {
		if f.timings && planned {
			timer.write(streams.ErrOut)
		}
	}()
	inv, err := inventory.Load(f.inventory)
	if err != nil {
		return reconcile.Result{}, err
	}
	printWarnings(streams, inv)
	if err := resolveState(f); err != nil {
		return reconcile.Result{}, err
	}
	k := &kernel{netns: f.netns, timer: timer}
	defer k.Close()
	opts.Node, opts.Prune, opts.StatePath, opts.Adopt = f.node, f.prune, f.state, f.adopt
	opts.Phase = func(p reconcile.Phase) {
		switch p {
		case reconcile.PhaseDesired:
			timer.lap("load")
		default:
			timer.lap(p.String())
		}
		planned = planned || p == reconcile.PhasePlan
	}
	res, err := reconcile.Run(ctx, inv, k, opts)
	return res, ipvsHint(err)
}

func runIPVSPlan(ctx context.Context, streams IOStreams, f *ipvsFlags) error {
	switch f.output {
	case "text", "json", "shell":
	default:
		return withHint(fmt.Errorf("unknown output format %q", f.output), "use -o text, -o json or -o shell")
	}
	res, err := runIPVS(ctx, streams, f, reconcile.Options{DryRun: true})
	if err != nil {
		return err
	}
	plan := res.Plan
	switch f.output {
	case "json":
		enc := json.NewEncoder(streams.Out)
		enc.SetIndent("", "  ")
		err = enc.Encode(plan)
	case "shell":
		for _, c := range plan.Changes {
			if _, err = fmt.Fprintln(streams.Out, c.Shell()); err != nil {
				break
			}
		}
	default:
		err = plan.WriteText(streams.Out)
	}
	if err != nil {
		return err
	}
	if !plan.Empty() {
		return &ExitError{Code: exitPending}
	}
	return nil
}

func runIPVSApply(ctx context.Context, streams IOStreams, f *ipvsFlags) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Each change is printed as it is made; the output is flushed at least
	// every progressEvery, so a big apply is not slowed by one write per line.
	out := bufio.NewWriter(streams.Out)
	defer out.Flush()
	last := time.Now()
	res, err := runIPVS(ctx, streams, f, reconcile.Options{DryRun: f.dryRun, Progress: func(c reconcile.Change) {
		fmt.Fprintln(out, c)
		if now := time.Now(); now.Sub(last) >= progressEvery {
			out.Flush()
			last = now
		}
	}})
	var refused *reconcile.AdoptError
	switch {
	case errors.As(err, &refused):
		for _, r := range refused.Services {
			fmt.Fprintln(out, reconcile.AdoptLine(r))
		}
		return withHint(fmt.Errorf("%d service(s) in the inventory exist in the kernel but were not created by hala: nothing changed", len(refused.Services)),
			"if keepalived manages them, leave them to it (never run hala ipvs apply there); otherwise run apply again with --adopt")
	case err != nil && res.Failure == nil:
		return err
	case f.dryRun:
		return res.Plan.WriteText(out)
	}
	if werr := res.WriteText(out); err == nil {
		err = werr
	}
	return err
}

func runIPVSShow(ctx context.Context, streams IOStreams, f *ipvsFlags) error {
	if f.output != "text" && f.output != "json" {
		return withHint(fmt.Errorf("unknown output format %q", f.output), "use -o text or -o json")
	}
	var inv *inventory.Inventory
	if f.inventory != "" {
		var err error
		if inv, err = inventory.Load(f.inventory); err != nil {
			return err
		}
		printWarnings(streams, inv)
	}
	if err := resolveState(f); err != nil {
		return err
	}
	owned, err := reconcile.LoadOwned(f.state)
	if err != nil {
		return err
	}
	h, err := openIPVS(f.netns)
	if err != nil {
		return err
	}
	defer h.Close()
	table, err := reconcile.Show(ctx, h, inv, owned)
	if err != nil {
		return ipvsHint(err)
	}
	if f.output == "json" {
		if table == nil {
			table = reconcile.Table{}
		}
		enc := json.NewEncoder(streams.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Services reconcile.Table `json:"services"`
		}{table})
	}
	return table.WriteText(streams.Out)
}
