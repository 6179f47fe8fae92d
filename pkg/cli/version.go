package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit are stamped by the Makefile from git:
// -ldflags "-X .../pkg/cli.version=v1.2.3 -X .../pkg/cli.commit=0123abc".
var (
	version = "dev"
	commit  = ""
)

// buildCommit returns the stamped commit, else the one the go command
// recorded (go install and go build in a git checkout), else "unknown".
func buildCommit() string {
	if commit != "" {
		return commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" && dirty {
			rev += "-dirty"
		}
		if rev != "" {
			return rev
		}
	}
	return "unknown"
}

func newVersionCommand(streams IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print hala's version, commit and Go version",
		Long: `Version prints the release (from the git tag the binary was built from),
the commit and the Go version that built it, one line:

  hala v1.2.0 (commit 0123abcd4567, go1.26.8, linux/amd64)`,
		Example: "  hala version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(streams.Out, "hala %s (commit %s, %s, %s/%s)\n", version, buildCommit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
