package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/vip"
)

type vipFlags struct {
	inventory string
	node      string
	netns     string
	vips      []string
}

func newVIPCommand(streams IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vip",
		Short: "Put a director's VIPs on its interface, take them off, or show them",
		Long: `For sites without keepalived (VRRP elsewhere, or the VIP announced by BGP/ECMP):
hold a director's VIPs on its interface from the same inventory.

A director's VIPs are those it is master of ([[vip]] master, or the derived
spread); --vip NAME picks VIPs by name instead, e.g. to move one by hand.
add and del are idempotent and touch no other address.`,
		Example: `  hala vip show -i /etc/hala/cluster.toml
  hala vip add -i /etc/hala/cluster.toml --node stash1
  hala vip del -i /etc/hala/cluster.toml --node stash1 --vip syslog`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		newVIPVerbCommand(streams, "add", "Add the director's VIPs to its interface (ip addr add)",
			"  hala vip add -i /etc/hala/cluster.toml --node stash1"),
		newVIPVerbCommand(streams, "del", "Delete the director's VIPs from its interface (ip addr del)",
			"  hala vip del -i /etc/hala/cluster.toml --node stash1 --vip syslog"),
		newVIPVerbCommand(streams, "show", "Show whether the director holds its VIPs",
			"  hala vip show -i /etc/hala/cluster.toml --node stash1"),
	)
	return cmd
}

func newVIPVerbCommand(streams IOStreams, verb, short, example string) *cobra.Command {
	f := &vipFlags{}
	cmd := &cobra.Command{
		Use:     verb + " -i FILE [--node NAME] [--vip NAME]... [--netns PATH]",
		Short:   short,
		Example: example,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVIP(streams, verb, f)
		},
	}
	cmd.Flags().StringVarP(&f.inventory, "inventory", "i", "", "inventory `FILE` (TOML)")
	cmd.Flags().StringVar(&f.node, "node", "", "director `NAME` to act as (default: this host's name)")
	cmd.Flags().StringArrayVar(&f.vips, "vip", nil, "act on the VIP called `NAME` instead of the director's own (repeatable)")
	cmd.Flags().StringVar(&f.netns, "netns", "", "network namespace `PATH` to act in, e.g. /run/netns/NAME (default: the current one)")
	_ = cmd.MarkFlagRequired("inventory")
	return cmd
}

func runVIP(streams IOStreams, verb string, f *vipFlags) error {
	inv, err := inventory.Load(f.inventory)
	if err != nil {
		return err
	}
	printWarnings(streams, inv)
	node, err := directorNode(inv, f.node)
	if err != nil {
		return err
	}
	addrs, err := nodeVIPs(inv, node, f.vips)
	if err != nil {
		return err
	}
	if len(addrs) == 0 {
		fmt.Fprintf(streams.ErrOut, "hala: %s is master of no VIP (use --vip NAME to pick one)\n", node)
		return nil
	}
	h, err := vip.New(f.netns)
	if err != nil {
		if f.netns != "" && (errors.Is(err, vip.ErrNotNamespace) || errors.Is(err, fs.ErrNotExist)) {
			return withHint(err, netnsUsage)
		}
		return netAdminHint(err)
	}
	defer h.Close()

	if verb == "show" {
		states, err := h.Show(addrs)
		if err != nil {
			return netAdminHint(err)
		}
		for _, s := range states {
			fmt.Fprintln(streams.Out, s)
		}
		return nil
	}
	for _, a := range addrs {
		var c vip.Change
		if verb == "add" {
			c, err = h.Add(a)
		} else {
			c, err = h.Delete(a)
		}
		if err != nil {
			if errors.Is(err, vip.ErrNoInterface) {
				return withHint(err, "set the director's interface (or [cluster] interface) in the inventory to one `ip link` lists")
			}
			return netAdminHint(err)
		}
		fmt.Fprintln(streams.Out, c)
	}
	return nil
}

// nodeVIPs returns the VIPs node holds: the named ones, or else those it
// is master of, each on the director's interface.
func nodeVIPs(inv *inventory.Inventory, node string, names []string) ([]vip.Address, error) {
	d, _ := inv.Director(node)
	var out []vip.Address
	if len(names) > 0 {
		for _, n := range names {
			v, ok := inv.VIP(n)
			if !ok {
				return nil, fmt.Errorf("no [[vip]] named %q in %s (VIPs: %s)", n, inv.File, vipNames(inv))
			}
			out = append(out, vip.Address{Name: v.Name, Prefix: v.Address, Interface: inv.InterfaceOf(v, d)})
		}
		return out, nil
	}
	for _, v := range inv.VIPsOf(node) {
		out = append(out, vip.Address{Name: v.Name, Prefix: v.Address, Interface: inv.InterfaceOf(v, d)})
	}
	return out, nil
}

func vipNames(inv *inventory.Inventory) string {
	var names []string
	for _, v := range inv.VIPs {
		names = append(names, strconv.Quote(v.Name))
	}
	return strings.Join(names, ", ")
}

// directorNode returns the director called name, or, when name is empty,
// the director named like this host (its short host name).
func directorNode(inv *inventory.Inventory, name string) (string, error) {
	var names []string
	for _, d := range inv.Directors {
		names = append(names, strconv.Quote(d.Name))
	}
	sort.Strings(names)
	if name == "" {
		host, err := shortHostname()
		if err != nil {
			return "", withHint(err, "pass --node NAME")
		}
		if _, ok := inv.Director(host); !ok {
			return "", withHint(fmt.Errorf("this host (%s) is not a [[director]] in %s", host, inv.File),
				"pass --node NAME, one of "+strings.Join(names, ", "))
		}
		return host, nil
	}
	if _, ok := inv.Director(name); !ok {
		return "", fmt.Errorf("no [[director]] named %q in %s (directors: %s)", name, inv.File, strings.Join(names, ", "))
	}
	return name, nil
}

// netAdminHint adds "run as root" to permission errors from the kernel.
func netAdminHint(err error) error {
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return withHint(err, "changing addresses needs root (CAP_NET_ADMIN)")
	}
	return err
}
