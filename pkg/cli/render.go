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
}

func newRenderCommand(streams IOStreams) *cobra.Command {
	flags := &renderFlags{}
	cmd := &cobra.Command{
		Use:   "render -i FILE -o DIR [--node NAME] [--check]",
		Short: "Write every host's keepalived.conf, sysctl, firewalld and Logstash files",
		Long: `Render turns the inventory into the files each host needs, under DIR/<host>/:

  keepalived.conf             directors: VRRP instances and IPVS virtual servers
  sysctl.d/90-hala.conf       directors (and DR/TUN real servers): kernel settings
  setup.sh                    directors (and DR/TUN real servers): one-time host setup
  firewalld.sh                every host: firewall-cmd rich rules
  logstash/conf.d/hala-inputs.conf
                              Logstash hosts: the inputs hala check looks for
  logstash/logstash.yml.snippet
                              Logstash hosts: the API bind address

Nothing is written when the inventory is invalid. Files are replaced
atomically and only when their content changed. --check writes nothing and
exits 1 listing the files that would change. "-o -" prints one node's files.`,
		Example: `  hala render -i examples/two-node.toml -o out
  hala render -i examples/two-node.toml -o out --check
  hala render -i examples/two-node.toml -o - --node stash1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRender(streams, flags)
		},
	}
	cmd.Flags().StringVarP(&flags.inventory, "inventory", "i", "", "inventory `FILE` (TOML)")
	cmd.Flags().StringVarP(&flags.out, "out", "o", "", "output `DIR`, or - for stdout (needs --node)")
	cmd.Flags().StringVar(&flags.node, "node", "", "render only the host called `NAME`")
	cmd.Flags().BoolVar(&flags.check, "check", false, "write nothing; exit 1 listing the files that would change")
	return cmd
}

func runRender(streams IOStreams, flags *renderFlags) error {
	if flags.inventory == "" {
		return withHint(errors.New("no inventory given"), "hala render -i FILE -o DIR")
	}
	if flags.out == "" {
		return withHint(errors.New("no output directory given"), "hala render -i FILE -o DIR (or -o - --node NAME for stdout)")
	}
	if flags.out == "-" && flags.node == "" {
		return withHint(errors.New("-o - prints one node's files"), "add --node NAME")
	}
	if flags.out == "-" && flags.check {
		return withHint(errors.New("--check compares with files in a directory"), "use -o DIR with --check")
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

	switch {
	case flags.out == "-":
		for _, f := range files {
			if _, err := fmt.Fprintf(streams.Out, "==> %s (%04o) <==\n%s", f.Path, f.Mode.Perm(), f.Data); err != nil {
				return err
			}
		}
		return nil
	case flags.check:
		changed, err := render.Changed(flags.out, files)
		if err != nil {
			return err
		}
		for _, p := range changed {
			fmt.Fprintf(streams.Out, "would write %s\n", p)
		}
		if len(changed) > 0 {
			fmt.Fprintf(streams.Out, "%d of %d files would change\n", len(changed), len(files))
			return &ExitError{Code: 1}
		}
		_, err = fmt.Fprintf(streams.Out, "%d files up to date in %s\n", len(files), filepath.Clean(flags.out))
		return err
	default:
		written, err := render.Write(flags.out, files)
		for _, p := range written {
			fmt.Fprintf(streams.Out, "wrote %s\n", p)
		}
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(streams.Out, "%d written, %d unchanged\n", len(written), len(files)-len(written))
		return err
	}
}
