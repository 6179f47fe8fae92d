package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCommand writes the man pages the packages ship (hala.1,
// hala-render.1, …). Hidden: it is a build step, not an operator's command.
func newManCommand(streams IOStreams) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:    "man --dir DIR",
		Short:  "Write hala's man pages (section 1) into DIR",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return withHint(fmt.Errorf("no directory given"), "hala man --dir DIR")
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("create man directory: %w", err)
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true // reproducible pages: no generation date
			// No Title: each page gets its command's, HALA-DIRECTOR(1) for hala director.
			header := &doc.GenManHeader{Section: "1", Source: "hala " + version, Manual: "hala manual"}
			if err := doc.GenManTree(root, header, dir); err != nil {
				return fmt.Errorf("write man pages: %w", err)
			}
			_, err := fmt.Fprintf(streams.Out, "wrote man pages to %s\n", dir)
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "output `DIR`")
	return cmd
}
