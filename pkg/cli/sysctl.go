package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
	"github.com/hala-lb/hala/pkg/sysctl"
)

type sysctlFlags struct {
	inventory string
	node      string
	dryRun    bool
	root      string
}

func newSysctlCommand(streams IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sysctl",
		Short: "Apply the kernel settings hala renders, on the running host",
		Example: `  hala sysctl apply -i /etc/hala/inventory.toml --dry-run
  hala sysctl apply -i /etc/hala/inventory.toml --node stash1`,
		Args: cobra.NoArgs,
	}
	f := &sysctlFlags{}
	apply := &cobra.Command{
		Use:   "apply -i FILE [--node NAME] [--dry-run]",
		Short: "Set the node's rendered sysctl.d/90-hala.conf keys now, printing old → new",
		Long: `Renders the node's sysctl.d/90-hala.conf from the inventory and sets each key
under /proc/sys, printing "key: old → new" for the keys it changes and
"key: value (unchanged)" for the others. Only differing keys are written.

It does what "sysctl -p 90-hala.conf" would, without installing the file;
install the rendered file too, so the settings survive a reboot.`,
		Example: `  hala sysctl apply -i /etc/hala/inventory.toml --node stash1 --dry-run
  hala sysctl apply -i /etc/hala/inventory.toml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSysctlApply(streams, f)
		},
	}
	apply.Flags().StringVarP(&f.inventory, "inventory", "i", "", "inventory `FILE` (TOML)")
	apply.Flags().StringVar(&f.node, "node", "", "host `NAME` whose settings to apply (default: this host's name)")
	apply.Flags().BoolVar(&f.dryRun, "dry-run", false, "print what would change, change nothing")
	apply.Flags().StringVar(&f.root, "sysctl-root", sysctl.DefaultRoot, "`DIR` of the kernel's settings")
	_ = apply.Flags().MarkHidden("sysctl-root")
	_ = apply.MarkFlagRequired("inventory")
	cmd.AddCommand(apply)
	return cmd
}

func runSysctlApply(streams IOStreams, f *sysctlFlags) error {
	inv, err := inventory.Load(f.inventory)
	if err != nil {
		return err
	}
	printWarnings(streams, inv)
	node := f.node
	if node == "" {
		if node, err = shortHostname(); err != nil {
			return withHint(err, "pass --node NAME")
		}
	}
	conf, ok, err := render.Sysctl(inv, node)
	if err != nil {
		if f.node == "" {
			return withHint(err, "this host's name is not in the inventory: pass --node NAME")
		}
		return err
	}
	if !ok {
		fmt.Fprintf(streams.ErrOut, "hala: %s needs no kernel settings\n", node)
		return nil
	}
	settings, err := sysctl.Parse(conf.Path, conf.Data)
	if err != nil {
		return err
	}
	results, err := sysctl.Apply(f.root, settings, f.dryRun)
	changed := 0
	for _, r := range results {
		fmt.Fprintln(streams.Out, r)
		if r.Changed {
			changed++
		}
	}
	switch {
	case err != nil:
		return sysctlHint(err)
	case f.dryRun:
		fmt.Fprintf(streams.Out, "%d of %d settings would change (dry run)\n", changed, len(results))
	default:
		fmt.Fprintf(streams.Out, "%d of %d settings changed\n", changed, len(results))
	}
	return nil
}

// sysctlHint adds what to try. Without root every write fails: that is
// the fix to name first, whatever else failed too.
func sysctlHint(err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return withHint(err, "setting kernel parameters needs root (run hala sysctl apply as root)")
	case errors.Is(err, sysctl.ErrUnknownKey) && strings.Contains(err.Error(), ".vs."):
		return withHint(err, "the net.ipv4.vs.* keys appear once IPVS is loaded: modprobe ip_vs (setup.sh loads it at boot)")
	}
	return err
}

// shortHostname is this host's name up to the first dot, as inventories
// name hosts.
func shortHostname() (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("host name: %w", err)
	}
	host, _, _ = strings.Cut(host, ".")
	return host, nil
}
