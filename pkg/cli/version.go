package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// version is stamped by the Makefile: -ldflags "-X .../pkg/cli.version=v1.2.3".
var version = "dev"

func newVersionCommand(streams IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print hala's version",
		Example: "  hala version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(streams.Out, "hala %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
