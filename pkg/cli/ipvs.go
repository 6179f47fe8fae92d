package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(placeholder): replaced by the real command.
func newIPVSCommand(streams IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:    "ipvs",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("ipvs: not implemented yet")
		},
	}
}
