package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/rollout"
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
weight 0 within one interval. Run it on every director. The directories
it creates are 0755 and the record 0644 whatever the umask; it then
checks that the check scripts' user (cluster.script_user with -i, else
keepalived_script) and hala director's user (hala) can read the record,
and exits 1 if either cannot: they skip a record they cannot read, and
the backend would stay in rotation.

--wait then returns once this director's IPVS table sends it nothing: each
destination pointing at it is gone, or at weight 0 with no active
connection, and its packet counter has not grown for 1s. On --timeout it
exits 1 listing what still points at it (the record stays).

--wait --local runs on the Logstash host itself and writes no record: it
returns once each input of the backend (from -i) has stopped growing its
events.out and its UDP socket's receive queue (/proc/net/udp, udp6) is
empty, so that a restart loses nothing still queued. When the Logstash
API cannot be read the way a starting or busy Logstash fails (connection
refused, a timeout, HTTP 5xx), it says so at once and keeps waiting for
the API until --timeout, then exits 1 saying the API could not be read;
any other failure (credentials, TLS, an answer that is not Logstash's
API, the input missing) ends it at once: waiting would not change it.

<backend> is a name (with -i) or an address alone: no port (a drain
covers every port), no zone, not 0.0.0.0 or ::. --list takes no backend
and no --wait; --timeout and --netns need --wait. --list -i names the
backends drained by address.

The order for a restart: drain on every director, --wait on every
director, --wait --local on the host, restart Logstash, wait until hala
check passes, hala undrain on every director (scripts/rolling-restart).

Exit status: 0 done (with --wait, the traffic moved); 1 an error, a
record its readers cannot read, or a wait that ran out of --timeout.`,
		Example: `  sudo hala drain -i /etc/hala/inventory.toml --wait stash1
  sudo hala drain 192.168.1.210
  hala drain -i /etc/hala/inventory.toml --wait --local stash1   # on stash1
  hala drain --list
  sudo hala undrain -i /etc/hala/inventory.toml stash1`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := drainFlagsAgree(cmd, f, args); err != nil || f.list || f.hosts {
				return err
			}
			if f.director != "" {
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
its rise checks). Run it on every director. --wait returns once this
director's IPVS table has the backend at a weight above 0 in each of its
services.

Exit status: 0 done (with --wait, the backend is back); 1 an error, or a
wait that ran out of --timeout.`,
		Example: `  sudo hala undrain -i /etc/hala/inventory.toml stash1
  sudo hala undrain 192.168.1.210`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := drainFlagsAgree(cmd, f, args); err != nil {
				return err
			}
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

// drainFlagsAgree refuses flags that do nothing together: a command that
// ignores part of what it was told is a trap in a script.
func drainFlagsAgree(cmd *cobra.Command, f *drainFlags, args []string) error {
	for _, mode := range []struct {
		on   bool
		name string
	}{{f.list, "--list"}, {f.hosts, "--hosts"}} {
		if !mode.on {
			continue
		}
		if len(args) > 0 {
			return withHint(fmt.Errorf("%s takes no backend (got %s)", mode.name, strings.Join(args, " ")), "hala drain "+mode.name+" alone, or hala drain BACKEND")
		}
		for _, other := range []string{"wait", "local", "wait-ready", "timeout", "netns", "list", "hosts"} {
			if "--"+other != mode.name && cmd.Flags().Changed(other) {
				return fmt.Errorf("%s cannot be combined with --%s", mode.name, other)
			}
		}
		return nil
	}
	if (cmd.Flags().Changed("timeout") || cmd.Flags().Changed("netns")) && !f.wait && !f.ready {
		flag := "--timeout"
		if !cmd.Flags().Changed("timeout") {
			flag = "--netns"
		}
		return withHint(fmt.Errorf("%s only applies to --wait", flag), "add --wait, or drop "+flag)
	}
	return nil
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
	if err := plainAddress(arg); err != nil {
		return nil, inventory.Logstash{}, err
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

// plainAddress refuses what would parse as a backend but names none, or
// not the one meant: a port (a drain is per address, every port), a zone
// (records are per address, so it would be dropped) or the unspecified
// address.
func plainAddress(arg string) error {
	if ap, err := netip.ParseAddrPort(arg); err == nil {
		return withHint(fmt.Errorf("backend %q has a port: a drain takes an address out of every service, whatever the port", arg), "no port: give the address alone, "+ap.Addr().String())
	}
	addr, err := netip.ParseAddr(arg)
	switch {
	case err != nil:
		return nil // a name, or not an address: backendOf says which
	case addr.Zone() != "":
		return withHint(fmt.Errorf("backend %q has a zone: drain records are per address and would drop it", arg), "give the address without %"+addr.Zone())
	case addr.IsUnspecified():
		return fmt.Errorf("backend %s is the unspecified address, no backend's", arg)
	}
	return nil
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
		if err := rollout.WaitReady(ctx, rollout.WaitOptions{}, inv, l); err != nil {
			return fmt.Errorf("wait for %s to pass hala check (%s): %w", describe(l), f.timeout, err)
		}
		fmt.Fprintf(streams.Out, "%s passes hala check for every input\n", describe(l))
		return nil
	}
	if f.local {
		if inv == nil {
			return withHint(errors.New("--wait --local needs the inventory, for the backend's inputs and ports"), "add -i FILE")
		}
		o := rollout.WaitOptions{Notify: func(m string) { fmt.Fprintf(streams.ErrOut, "hala: %s\n", m) }}
		return rollout.WaitInputs(ctx, o, inv, l, describe(l), func(s inventory.Service) {
			fmt.Fprintf(streams.Out, "input %q of %s is idle\n", s.InputID, describe(l))
		})
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
	if err := checkReaders(f.dir, inv, l); err != nil {
		return err
	}
	if !f.wait {
		return nil
	}
	return waitDirector(ctx, streams, f, l)
}

// directorUser is the User= of hala-director.service.
const directorUser = "hala"

// checkReaders fails unless the users that read drain records (the check
// scripts' user and the director's) can read l's: a record they cannot
// read drains nothing, and they only warn about it.
func checkReaders(dir string, inv *inventory.Inventory, l inventory.Logstash) error {
	script := inventory.DefaultScriptUser
	if inv != nil {
		script = inv.Cluster.ScriptUser
	}
	for _, u := range []string{script, directorUser} {
		if err := drain.CheckReadable(dir, l.Address, drain.LookupReader(u)); err != nil {
			return withHint(fmt.Errorf("%s stays in rotation: %w; hala check and hala director skip a record they cannot read (it is written: hala undrain removes it)", describe(l), err),
				"let that user search every directory down to "+dir+" and read the record (e.g. chmod 0755 on the directory named), then run hala drain again")
		}
	}
	return nil
}

// waitDirector polls this director's IPVS table until it sends l nothing.
func waitDirector(ctx context.Context, streams IOStreams, f *drainFlags, l inventory.Logstash) error {
	h, err := openIPVS(f.netns)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := rollout.WaitDirector(ctx, rollout.WaitOptions{}, rollout.Destinations(h, l.Address)); err != nil {
		return withHint(fmt.Errorf("wait for %s on this director (%s): %w", describe(l), f.timeout, err), "the drain record stays; hala undrain puts the backend back")
	}
	fmt.Fprintf(streams.Out, "%s gets no traffic from this director\n", describe(l))
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
	if err := rollout.WaitBack(ctx, rollout.WaitOptions{}, h, l.Address, want); err != nil {
		return fmt.Errorf("wait for %s back in this director's IPVS table (%s): %w", describe(l), f.timeout, err)
	}
	fmt.Fprintf(streams.Out, "%s is back in this director's table\n", describe(l))
	return nil
}

func runDrainList(streams IOStreams, f *drainFlags) error {
	var inv *inventory.Inventory
	if f.inventory != "" {
		var err error
		if inv, err = inventory.Load(f.inventory); err != nil {
			return err
		}
		printWarnings(streams, inv)
	}
	recs, err := drain.List(f.dir)
	for _, r := range recs {
		// A backend drained by address gets its [[logstash]] name.
		if inv != nil && r.Name == "" {
			if l, ok := inv.Backend(r.Address.String()); ok {
				r.Name = l.Name
			}
		}
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
