package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/reconcile"
	"github.com/hala-lb/hala/pkg/rollout"
)

// addDirectorFlag adds drain and undrain's --director (cluster.ha = "bgp").
func addDirectorFlag(cmd *cobra.Command, f *drainFlags) {
	verb := cmd.Name()
	cmd.Long += `

With cluster.ha = "bgp", ` + verb + ` -i FILE --director NAME acts on the director NAME
itself, on that director: drain writes its record (under --drain-dir's
director/), and its hala director withdraws every VIP from the routers
within 250ms while IPVS keeps forwarding what still arrives; --wait
returns once the VIPs' services in its IPVS table have received nothing
for 1s. undrain removes the record: the VIPs are announced again while
the backends are healthy (docs/bgp.md).`
	cmd.Example += "\n  sudo hala " + verb + " -i /etc/hala/inventory.toml --director lb2"
	if verb == "drain" {
		cmd.Example += " --wait"
	}
	cmd.Flags().StringVar(&f.director, "director", "", "with -i and cluster.ha = \"bgp\": (un)drain the director `NAME` itself: it withdraws (announces) its VIPs and keeps forwarding what arrives; run it on that director")
}

// runDrainDirector writes (drain) or removes (undrain) the director's own
// record; hala director on it withdraws or announces its VIPs within
// 250ms. With --wait, a drain returns once the routers have stopped
// sending to this director: the packet counters of the VIPs' services in
// its IPVS table have not grown for 1s.
func runDrainDirector(ctx context.Context, streams IOStreams, f *drainFlags, on bool) error {
	if f.inventory == "" {
		return withHint(fmt.Errorf("--director needs the inventory"), "hala drain -i /etc/hala/inventory.toml --director NAME")
	}
	inv, err := inventory.Load(f.inventory)
	if err != nil {
		return problemsError(f.inventory, err)
	}
	if !inv.UsesBGP() {
		return withHint(fmt.Errorf("%s: --director needs cluster.ha = \"bgp\": with VRRP a director's VIPs move by keepalived", f.inventory),
			"stop keepalived on the director (its VIPs move to a backup), or drain the backends")
	}
	d, ok := inv.Director(f.director)
	if !ok {
		return fmt.Errorf("%s: no [[director]] %q", f.inventory, f.director)
	}
	dir := drain.DirectorDir(f.dir)
	who := fmt.Sprintf("director %s (%s)", d.Name, d.Address)
	if !on {
		had, err := drain.Undrain(dir, d.Address)
		if err != nil {
			return err
		}
		if !had {
			fmt.Fprintf(streams.Out, "%s was not drained\n", who)
			return nil
		}
		fmt.Fprintf(streams.Out, "undrained %s: it announces its VIPs again while its backends are healthy\n", who)
		return nil
	}
	if err := drain.Drain(dir, drain.Record{Address: d.Address, Name: d.Name, Since: time.Now().UTC().Truncate(time.Second)}); err != nil {
		return err
	}
	fmt.Fprintf(streams.Out, "drained %s: it withdraws its VIPs and keeps forwarding what still arrives\n", who)
	if !f.wait {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	return waitWithdrawn(ctx, streams, f, inv, who)
}

// waitWithdrawn polls this director's IPVS table until the VIPs' services
// receive nothing more.
func waitWithdrawn(ctx context.Context, streams IOStreams, f *drainFlags, inv *inventory.Inventory, who string) error {
	h, err := openIPVS(f.netns)
	if err != nil {
		return err
	}
	defer h.Close()
	desired, err := reconcile.Desired(inv, f.director)
	if err != nil {
		return err
	}
	err = rollout.WaitDirector(ctx, rollout.WaitOptions{}, func(ctx context.Context) ([]rollout.Destination, error) {
		table, err := reconcile.Observe(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("read the IPVS table: %w", err)
		}
		var ps []rollout.Destination
		for _, e := range table {
			for _, want := range desired {
				if e.Service.Key() != want.Service.Key() {
					continue
				}
				// Weight 0: only the packet counter decides.
				p := rollout.Destination{Name: e.Service.String()}
				for _, d := range e.Destinations {
					p.InPkts += d.Stats.PacketsIn
				}
				ps = append(ps, p)
			}
		}
		return ps, nil
	})
	if err != nil {
		return withHint(fmt.Errorf("wait for the routers to stop sending to %s (%s): %w", who, f.timeout, err),
			"the drain record stays; check the routers' view (show ip bgp) and hala director's log")
	}
	fmt.Fprintf(streams.Out, "%s receives no more traffic\n", who)
	return nil
}
