package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/inventory"
	"github.com/hala-lb/hala/pkg/render"
)

type renderFlags struct {
	inventory string
	out       string
	node      string
	check     bool
	prune     bool
}

func newRenderCommand(streams IOStreams) *cobra.Command {
	flags := &renderFlags{}
	cmd := &cobra.Command{
		Use:   "render -i FILE -d DIR [--node NAME] [--check] [--prune]",
		Short: "Write every host's keepalived.conf, sysctl, firewalld and Logstash files",
		Long: `Render turns the inventory into the files each host needs, under DIR/<host>/:

  keepalived.conf             directors: VRRP instances and IPVS virtual servers
  sysctl.d/90-hala.conf       directors (and DR/TUN real servers): kernel settings
  setup.sh                    directors (and DR/TUN real servers): one-time host setup
  firewalld.sh                every host: firewall-cmd rich rules
  hala-director.service       directors with cluster.ipvs = "director": the unit
                              the package installs too (setup.sh installs it only
                              where no package did)
  default/hala-director       the same directors: /etc/default/hala-director, the
                              unit's settings (--node NAME)
  hala-local-vips.service     DR/TUN real servers: puts the VIPs back at boot
  logstash/conf.d/hala-inputs.conf
                              Logstash hosts: the inputs hala check looks for
  logstash/logstash.yml.snippet
                              Logstash hosts: the API bind address

Nothing is written when the inventory is invalid. Files are replaced
atomically and only when their content changed. DIR/.hala-manifest records
the files render wrote; a file it lists that the inventory no longer
produces (a removed host, say) is stale: render warns and leaves it,
--prune deletes it, and never any file the manifest does not list. With
--node only that host's files are judged. --check writes nothing and exits
1 listing the files that would change and the stale ones. "-d -" prints one
node's files and writes no manifest. (-o/--out DIR is the old spelling of
-d/--dir, kept for one release: -o means an output format elsewhere.)`,
		Example: `  hala render -i /etc/hala/inventory.toml -d out
  hala render -i /etc/hala/inventory.toml -d out --check
  hala render -i /etc/hala/inventory.toml -d out --prune
  hala render -i /etc/hala/inventory.toml -d - --node stash1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("out") {
				fmt.Fprintln(streams.ErrOut, "hala: warning: -o/--out DIR is deprecated: use -d/--dir DIR (-o is an output format in other commands)")
			}
			return runRender(streams, flags)
		},
	}
	cmd.Flags().StringVarP(&flags.inventory, "inventory", "i", "", "inventory `FILE` (TOML)")
	cmd.Flags().StringVarP(&flags.out, "dir", "d", "", "output `DIR`, or - for stdout (needs --node)")
	// The old spelling, hidden, with a warning on stderr (cobra's own
	// deprecation notice would go to stdout, into "-d -" output).
	cmd.Flags().StringVarP(&flags.out, "out", "o", "", "old spelling of -d/--dir `DIR`")
	_ = cmd.Flags().MarkHidden("out")
	cmd.Flags().StringVar(&flags.node, "node", "", "render only the host called `NAME`")
	cmd.Flags().BoolVar(&flags.check, "check", false, "write nothing; exit 1 listing the files that would change and the stale ones")
	cmd.Flags().BoolVar(&flags.prune, "prune", false, "delete stale files: those the manifest says render wrote that are no longer produced")
	return cmd
}

func runRender(streams IOStreams, flags *renderFlags) error {
	if flags.inventory == "" {
		return withHint(errors.New("no inventory given"), "hala render -i FILE -d DIR")
	}
	if flags.out == "" {
		return withHint(errors.New("no output directory given"), "hala render -i FILE -d DIR (or -d - --node NAME for stdout)")
	}
	if flags.out == "-" && flags.node == "" {
		return withHint(errors.New("-d - prints one node's files"), "add --node NAME")
	}
	if flags.out == "-" && flags.prune {
		return withHint(errors.New("--prune deletes stale files in an output directory"), "use -d DIR with --prune")
	}
	if flags.out == "-" && flags.check {
		return withHint(errors.New("--check compares with files in a directory"), "use -d DIR with --check")
	}
	inv, err := inventory.Load(flags.inventory)
	if err != nil {
		if _, problems := err.(interface{ Unwrap() []error }); !problems {
			// A missing or unreadable file: validate would say the same.
			return err
		}
		return withHint(problemsError(flags.inventory, err), "nothing was written; hala validate -i "+flags.inventory+" lists the same problems")
	}
	printWarnings(streams, inv)
	var files []render.File
	if flags.node != "" {
		files, err = render.Node(inv, flags.node)
	} else {
		files, err = render.All(inv)
	}
	if err != nil {
		return err
	}

	if flags.out == "-" {
		for _, f := range files {
			if _, err := fmt.Fprintf(streams.Out, "==> %s (%04o) <==\n%s", f.Path, f.Mode.Perm(), f.Data); err != nil {
				return err
			}
		}
		return nil
	}
	opts := render.Options{Node: flags.node, Prune: flags.prune}
	if flags.check {
		rep, err := render.Status(flags.out, files, opts)
		if err != nil {
			return manifestHint(err)
		}
		return printCheck(streams, flags, rep, len(files))
	}
	rep, err := render.Sync(flags.out, files, opts)
	for _, p := range rep.Written {
		fmt.Fprintf(streams.Out, "wrote %s\n", p)
	}
	for _, p := range append(rep.Pruned, rep.Dirs...) {
		fmt.Fprintf(streams.Out, "removed %s\n", p)
	}
	if err != nil {
		return manifestHint(err)
	}
	summary := fmt.Sprintf("%d written, %d unchanged", len(rep.Written), rep.Unchanged)
	if len(rep.Pruned) > 0 {
		summary += fmt.Sprintf(", %d stale removed", len(rep.Pruned))
	}
	if _, err := fmt.Fprintln(streams.Out, summary); err != nil {
		return err
	}
	if len(rep.Stale) > 0 {
		for _, p := range rep.Stale {
			fmt.Fprintf(streams.ErrOut, "hala: warning: stale file left in place (rendered before, no longer produced): %s\n", p)
		}
		fmt.Fprintf(streams.ErrOut, "hala: hint: %s removes them\n", pruneCommand(flags))
	}
	return nil
}

// printCheck lists what render would change and exits 1 if anything would.
func printCheck(streams IOStreams, flags *renderFlags, rep render.Report, total int) error {
	for _, p := range rep.Written {
		fmt.Fprintf(streams.Out, "would write %s\n", p)
	}
	if rep.Manifest {
		fmt.Fprintf(streams.Out, "would write %s\n", filepath.Join(flags.out, render.ManifestName))
	}
	for _, p := range rep.Stale {
		fmt.Fprintf(streams.Out, "stale %s\n", p)
	}
	if len(rep.Written) == 0 && len(rep.Stale) == 0 && !rep.Manifest {
		_, err := fmt.Fprintf(streams.Out, "%d files up to date in %s\n", total, filepath.Clean(flags.out))
		return err
	}
	summary := fmt.Sprintf("%d of %d files would change", len(rep.Written), total)
	if rep.Manifest && len(rep.Written) == 0 {
		summary += ", and the manifest"
	}
	if len(rep.Stale) > 0 {
		summary += fmt.Sprintf(", %d stale", len(rep.Stale))
	}
	fmt.Fprintln(streams.Out, summary)
	if len(rep.Stale) > 0 && !flags.prune {
		fmt.Fprintf(streams.ErrOut, "hala: hint: %s removes the stale files\n", pruneCommand(flags))
	}
	return &ExitError{Code: 1}
}

// pruneCommand is the render command line that would delete stale files.
func pruneCommand(flags *renderFlags) string {
	cmd := "hala render -i " + flags.inventory + " -d " + flags.out
	if flags.node != "" {
		cmd += " --node " + flags.node
	}
	return cmd + " --prune"
}

// manifestHint adds what to do about a manifest that cannot be trusted.
func manifestHint(err error) error {
	var me *render.ManifestError
	if errors.As(err, &me) {
		return withHint(err, "nothing was written; the manifest records what hala render wrote here: restore it, or delete it (then no file counts as stale)")
	}
	return err
}
