package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/check"
	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/logstash"
	"github.com/hala-lb/hala/pkg/reconcile"
)

type drainFlags struct {
	inventory string
	dir       string
	wait      bool
	local     bool
	timeout   time.Duration
	netns     string
	list      bool
	hosts     bool
	ready     bool
	director  string // drain_director.go
}

func newDrainCommand(streams IOStreams) *cobra.Command {
	f := &drainFlags{}
	cmd := &cobra.Command{
		Use:   "drain [-i FILE] [--wait [--local]] [--timeout 60s] <backend> | drain --list",
		Short: "Take a Logstash backend out of rotation before restarting it",
		Long: `Writes a drain record for <backend> (a [[logstash]] name with -i FILE, or
an address) in --drain-dir (default ` + drain.DefaultDir + `, or $` + drain.EnvDir + `),
atomically; it survives reboots until hala undrain. On this director,
hala check then reports the backend down ("drained since <time> (hala
drain)"), or up at weight 0 with --dynamic-weight so TCP sessions finish,
and hala director removes its UDP destinations and sets its TCP ones to
weight 0 within one interval. Run it on every director.

--wait then returns once this director's IPVS table sends it nothing: each
destination pointing at it is gone, or at weight 0 with no active
connection, and its packet counter has not grown for 1s. On --timeout it
exits 1 listing what still points at it (the record stays).

--wait --local runs on the Logstash host itself and writes no record: it
returns once each input of the backend (from -i) has stopped growing its
events.out and its UDP socket's receive queue (/proc/net/udp, udp6) is
empty, so that a restart loses nothing still queued.

The order for a restart: drain on every director, --wait on every
director, --wait --local on the host, restart Logstash, wait until hala
check passes, hala undrain on every director (scripts/rolling-restart).`,
		Example: `  sudo hala drain -i /etc/hala/inventory.toml --wait stash1
  sudo hala drain 192.168.1.210
  hala drain -i /etc/hala/inventory.toml --wait --local stash1   # on stash1
  hala drain --list
  sudo hala undrain -i /etc/hala/inventory.toml stash1`,
		Args: func(cmd *cobra.Command, args []string) error {
			if f.list || f.hosts || f.director != "" {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case f.director != "":
				return runDrainDirector(cmd.Context(), streams, f, true)
			case f.list:
				return runDrainList(streams, f)
			case f.hosts:
				return runDrainHosts(streams, f)
			}
			return runDrain(cmd.Context(), streams, f, args[0])
		},
	}
	fl := cmd.Flags()
	addDrainFlags(cmd, f)
	fl.BoolVar(&f.list, "list", false, "list the drained backends")
	fl.BoolVar(&f.hosts, "hosts", false, "with -i, print \"director|logstash NAME ADDRESS\" per host (for scripts/rolling-restart)")
	fl.BoolVar(&f.ready, "wait-ready", false, "with -i, write no record: wait until hala check passes for every input of the backend (after its restart)")
	fl.BoolVar(&f.wait, "wait", false, "wait until this director's IPVS table sends the backend no traffic")
	fl.BoolVar(&f.local, "local", false, "with --wait, on the Logstash host: wait until its inputs are idle and their UDP queues empty (writes no record)")
	fl.DurationVar(&f.timeout, "timeout", 60*time.Second, "bound on --wait (`DURATION`)")
	fl.StringVar(&f.netns, "netns", "", "network namespace `PATH` whose IPVS table --wait reads (default: the current one)")
	addDirectorFlag(cmd, f)
	return cmd
}

func newUndrainCommand(streams IOStreams) *cobra.Command {
	f := &drainFlags{}
	cmd := &cobra.Command{
		Use:   "undrain [-i FILE] <backend>",
		Short: "Put a drained backend back into rotation",
		Long: `Removes <backend>'s drain record from --drain-dir: hala check passes again
and hala director restores its destinations within one interval (after
its rise checks). Run it on every director.`,
		Example: `  sudo hala undrain -i /etc/hala/inventory.toml stash1
  sudo hala undrain 192.168.1.210`,
		Args: func(cmd *cobra.Command, args []string) error {
			if f.director != "" {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.director != "" {
				return runDrainDirector(cmd.Context(), streams, f, false)
			}
			return runUndrain(cmd.Context(), streams, f, args[0])
		},
	}
	addDrainFlags(cmd, f)
	cmd.Flags().BoolVar(&f.wait, "wait", false, "wait until this director's IPVS table sends the backend traffic again (weight above 0 in each of its services)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 60*time.Second, "bound on --wait (`DURATION`)")
	cmd.Flags().StringVar(&f.netns, "netns", "", "network namespace `PATH` whose IPVS table --wait reads (default: the current one)")
	addDirectorFlag(cmd, f)
	return cmd
}

func addDrainFlags(cmd *cobra.Command, f *drainFlags) {
	cmd.Flags().StringVarP(&f.inventory, "inventory", "i", "", "inventory `FILE`, to name backends by their [[logstash]] name")
	cmd.Flags().StringVar(&f.dir, "drain-dir", drain.Dir(), "`DIR` of the drain records (or $"+drain.EnvDir+")")
}

// backendOf resolves a [[logstash]] name (with -i) or an address.
func backendOf(streams IOStreams, f *drainFlags, arg string) (*inventory.Inventory, inventory.Logstash, error) {
	var inv *inventory.Inventory
	if f.inventory != "" {
		var err error
		if inv, err = inventory.Load(f.inventory); err != nil {
			return nil, inventory.Logstash{}, err
		}
		printWarnings(streams, inv)
		if l, ok := inv.Backend(arg); ok {
			return inv, l, nil
		}
	}
	addr, err := netip.ParseAddr(arg)
	switch {
	case err == nil && inv == nil:
		return nil, inventory.Logstash{Address: addr.Unmap()}, nil
	case err == nil:
		return nil, inventory.Logstash{}, withHint(fmt.Errorf("%s: no [[logstash]] host has address %s", inv.File, arg), "drain it without -i to drain an address the inventory does not list")
	case inv != nil:
		return nil, inventory.Logstash{}, fmt.Errorf("%s: no [[logstash]] host is called %q", inv.File, arg)
	}
	return nil, inventory.Logstash{}, withHint(fmt.Errorf("backend %q is not an IP address", arg), "give -i FILE to name a [[logstash]] host")
}

func describe(l inventory.Logstash) string {
	if l.Name == "" {
		return l.Address.String()
	}
	return fmt.Sprintf("%s (%s)", l.Name, l.Address)
}

func runDrain(ctx context.Context, streams IOStreams, f *drainFlags, arg string) error {
	if f.local && !f.wait {
		return withHint(errors.New("--local only applies to --wait"), "on the Logstash host: hala drain -i FILE --wait --local NAME")
	}
	inv, l, err := backendOf(streams, f, arg)
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	if f.ready {
		if inv == nil {
			return withHint(errors.New("--wait-ready needs the inventory, for the backend's inputs"), "add -i FILE")
		}
		return waitReady(ctx, streams, inv, l, f.timeout)
	}
	if f.local {
		if inv == nil {
			return withHint(errors.New("--wait --local needs the inventory, for the backend's inputs and ports"), "add -i FILE")
		}
		return waitLocal(ctx, streams, inv, l)
	}
	rec, err := drain.Lookup(f.dir, l.Address)
	switch {
	case err != nil:
		fmt.Fprintf(streams.ErrOut, "hala: warning: %v (writing a new record)\n", err)
		rec = nil
	case rec != nil:
		fmt.Fprintf(streams.Out, "%s already drained since %s\n", describe(l), rec.Since.Format(time.RFC3339))
	}
	if rec == nil {
		r := drain.Record{Address: l.Address, Name: l.Name, Since: time.Now().UTC().Truncate(time.Second)}
		if err := drain.Drain(f.dir, r); err != nil {
			if errors.Is(err, os.ErrPermission) {
				return withHint(err, "drain records are root's: run it with sudo")
			}
			return err
		}
		fmt.Fprintf(streams.Out, "drained %s\n", describe(l))
	}
	if !f.wait {
		return nil
	}
	return waitDirector(ctx, streams, f, l)
}

// waitDirector polls this director's IPVS table until it sends l nothing.
func waitDirector(ctx context.Context, streams IOStreams, f *drainFlags, l inventory.Logstash) error {
	h, err := openIPVS(f.netns)
	if err != nil {
		return err
	}
	defer h.Close()
	err = drain.WaitRemote(ctx, drain.WaitOptions{}, func(ctx context.Context) ([]drain.Pointer, error) {
		table, err := reconcile.Observe(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("read the IPVS table: %w", err)
		}
		var ps []drain.Pointer
		for _, e := range table {
			for _, d := range e.Destinations {
				if d.Address == l.Address {
					ps = append(ps, drain.Pointer{
						Name:   fmt.Sprintf("%s -> %s", e.Service, d.Key()),
						Weight: d.Weight, ActiveConns: d.ActiveConns, InPkts: d.Stats.PacketsIn,
					})
				}
			}
		}
		return ps, nil
	})
	if err != nil {
		return withHint(fmt.Errorf("wait for %s on this director (%s): %w", describe(l), f.timeout, err), "the drain record stays; hala undrain puts the backend back")
	}
	fmt.Fprintf(streams.Out, "%s gets no traffic from this director\n", describe(l))
	return nil
}

// waitLocal polls the backend's own API and UDP sockets until every input
// it serves is idle.
func waitLocal(ctx context.Context, streams IOStreams, inv *inventory.Inventory, l inventory.Logstash) error {
	cfg, err := check.APIConfig(inv, l.Address.String(), l.APIPort)
	if err != nil {
		return err
	}
	client, err := logstash.New(cfg)
	if err != nil {
		return err
	}
	services := inv.ServicesOfBackend(l.Name)
	if len(services) == 0 {
		return fmt.Errorf("%s: no [[service]] has %s among its backends", inv.File, l.Name)
	}
	for _, s := range services {
		err := drain.WaitLocal(ctx, drain.WaitOptions{}, func(ctx context.Context) (drain.Local, error) {
			var out drain.Local
			stats, err := client.NodeStats(ctx, s.Pipeline)
			if err != nil {
				return out, fmt.Errorf("ask %s: %w", addrOf(l.Address.String(), l.APIPort), err)
			}
			_, in := stats.FindInput(s.InputID)
			if s.Pipeline != "" {
				in = nil
				if p := stats.Pipeline(s.Pipeline); p != nil {
					in = p.Input(s.InputID)
				}
			}
			if in == nil {
				return out, fmt.Errorf("input %q not in the node stats", s.InputID)
			}
			if in.Events != nil {
				out.EventsOut = in.Events.Out
			}
			if s.Protocol == "udp" {
				q, _, err := drain.UDPReceiveQueue(uint16(s.BackendPort), drain.UDPFiles...)
				if err != nil {
					return out, err
				}
				out.RxQueue = q
			}
			return out, nil
		})
		if err != nil {
			return fmt.Errorf("wait for input %q of %s: %w", s.InputID, describe(l), err)
		}
		fmt.Fprintf(streams.Out, "input %q of %s is idle\n", s.InputID, describe(l))
	}
	return nil
}

func runUndrain(ctx context.Context, streams IOStreams, f *drainFlags, arg string) error {
	inv, l, err := backendOf(streams, f, arg)
	if err != nil {
		return err
	}
	had, err := drain.Undrain(f.dir, l.Address)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return withHint(err, "drain records are root's: run it with sudo")
		}
		return err
	}
	if had {
		fmt.Fprintf(streams.Out, "undrained %s\n", describe(l))
	} else {
		fmt.Fprintf(streams.Out, "%s was not drained\n", describe(l))
	}
	if !f.wait {
		return nil
	}
	want := 1
	if inv != nil {
		want = max(1, len(inv.ServicesOfBackend(l.Name)))
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	h, err := openIPVS(f.netns)
	if err != nil {
		return err
	}
	defer h.Close()
	for {
		table, err := reconcile.Observe(ctx, h)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("read the IPVS table: %w", err)
		}
		n := 0
		for _, e := range table {
			for _, d := range e.Destinations {
				if d.Address == l.Address && d.Weight > 0 {
					n++
				}
			}
		}
		if n >= want {
			fmt.Fprintf(streams.Out, "%s is back in this director's table\n", describe(l))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s back in this director's IPVS table (%s): %d of %d destinations at weight above 0", describe(l), f.timeout, n, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func runDrainList(streams IOStreams, f *drainFlags) error {
	recs, err := drain.List(f.dir)
	for _, r := range recs {
		fmt.Fprintln(streams.Out, r.String())
	}
	if len(recs) == 0 && err == nil {
		fmt.Fprintf(streams.Out, "no backend drained (%s)\n", f.dir)
	}
	if err != nil {
		// Unreadable records drain nothing: the readers ignore them too.
		fmt.Fprintf(streams.ErrOut, "hala: warning: %v (ignored by hala check and hala director)\n", err)
	}
	return nil
}

// runDrainHosts prints the inventory's hosts, one "ROLE NAME ADDRESS" line
// each, directors first: what scripts/rolling-restart walks.
func runDrainHosts(streams IOStreams, f *drainFlags) error {
	if f.inventory == "" {
		return withHint(errors.New("--hosts needs the inventory"), "add -i FILE")
	}
	inv, err := inventory.Load(f.inventory)
	if err != nil {
		return err
	}
	printWarnings(streams, inv)
	for _, d := range inv.Directors {
		fmt.Fprintf(streams.Out, "director %s %s\n", d.Name, d.Address)
	}
	for _, l := range inv.Logstash {
		fmt.Fprintf(streams.Out, "logstash %s %s\n", l.Name, l.Address)
	}
	return nil
}

// waitReady repeats hala check of every input l serves (drain records
// aside) until all pass at once.
func waitReady(ctx context.Context, streams IOStreams, inv *inventory.Inventory, l inventory.Logstash, timeout time.Duration) error {
	services := inv.ServicesOfBackend(l.Name)
	if len(services) == 0 {
		return fmt.Errorf("%s: no [[service]] has %s among its backends", inv.File, l.Name)
	}
	cfg, err := check.APIConfig(inv, l.Address.String(), l.APIPort)
	if err != nil {
		return err
	}
	client, err := logstash.New(cfg)
	if err != nil {
		return err
	}
	addr := addrOf(l.Address.String(), l.APIPort)
	var last *check.Verdict
	for {
		ok := true
		for _, s := range services {
			cctx, cancel := context.WithTimeout(ctx, inv.Cluster.CheckTimeout.Duration)
			v := check.Run(cctx, client, check.Options{
				Address: addr, Host: l.Address.String(), Input: s.InputID, Pipeline: s.Pipeline,
				Timeout: inv.Cluster.CheckTimeout.Duration, ReadOnly: true,
			})
			cancel()
			if !v.Healthy {
				ok, last = false, v
				break
			}
		}
		if ok {
			fmt.Fprintf(streams.Out, "%s passes hala check for every input\n", describe(l))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s to pass hala check (%s): %s", describe(l), timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
