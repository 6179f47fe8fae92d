package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(placeholder): replaced by the real command.
func newCheckCommand(streams IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:    "check",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("check: not implemented yet")
		},
	}
}
