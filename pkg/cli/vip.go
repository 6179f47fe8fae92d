package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(placeholder): replaced by the real command.
func newVIPCommand(streams IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:    "vip",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("vip: not implemented yet")
		},
	}
}
