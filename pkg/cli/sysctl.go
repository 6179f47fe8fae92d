package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(placeholder): replaced by the real command.
func newSysctlCommand(streams IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:    "sysctl",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("sysctl: not implemented yet")
		},
	}
}
