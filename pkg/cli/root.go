package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// IOStreams carries a command's standard streams so tests can capture them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// ExitError asks Run to exit with Code. When Err is nil nothing is printed:
// the command has already said what it had to (hala check, render --check).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// hintError carries a suggestion printed as "hala: hint: ..." after the error.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// withHint wraps err with a hint for the user; nil stays nil.
func withHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &hintError{err: err, hint: hint}
}

// Run executes hala with args and returns the process exit code.
func Run(args []string, in io.Reader, out, errOut io.Writer) int {
	streams := IOStreams{In: in, Out: out, ErrOut: errOut}
	root := newRootCommand(streams)
	root.SetArgs(args)
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	err := root.Execute()
	if err == nil {
		return 0
	}
	code := 1
	var exitErr *ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.Code
		if exitErr.Err == nil {
			return code
		}
	}
	fmt.Fprintf(errOut, "hala: error: %v\n", err)
	var h *hintError
	if errors.As(err, &h) {
		fmt.Fprintf(errOut, "hala: hint: %s\n", h.hint)
	}
	return code
}

func newRootCommand(streams IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:   "hala",
		Short: "Highly available, load-balanced Logstash with keepalived and IPVS",
		Long: `hala makes Logstash (and any UDP/TCP log receiver) highly available and
load-balanced: a keepalived VRRP virtual IP in front of an IPVS virtual server
whose real servers are kept or dropped by a check of each Logstash input.

One TOML inventory describes the cluster; hala renders every director's
keepalived.conf, sysctl and firewalld rules and the Logstash inputs from it,
checks Logstash inputs for keepalived's MISC_CHECK, and can program IPVS itself.`,
		Example: `  hala validate -i examples/two-node.toml
  hala render -i examples/two-node.toml -o out
  hala check --explain 192.168.1.210 udp-5514
  hala ipvs plan -i examples/two-node.toml --node stash1`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.HiddenDefaultCmd = false
	root.AddCommand(
		newVersionCommand(streams),
		newValidateCommand(streams),
		newRenderCommand(streams),
		newCheckCommand(streams),
		newIPVSCommand(streams),
		newVIPCommand(streams),
		newSysctlCommand(streams),
		newDirectorCommand(streams),
		newImportCommand(streams),
		newManCommand(streams),
	)
	return root
}
