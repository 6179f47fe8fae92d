package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(placeholder): replaced by the real command.
func newRenderCommand(streams IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:    "render",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("render: not implemented yet")
		},
	}
}
