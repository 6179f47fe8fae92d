package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

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
	var root *cobra.Command
	if len(args) > 0 && args[0] == "check" {
		root = newCheckRoot(streams)
	} else {
		root = newRootCommand(streams)
	}
	root.SetArgs(args)
	err := unknownBeforeHelp(streams, args)
	if err == nil {
		err = root.Execute()
	}
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

// Command is hala's whole command tree, for generating documentation (the
// man pages scripts/package ships) outside the binary.
func Command() *cobra.Command {
	return newRootCommand(IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
}

// newCheckRoot is the root of `hala check`, hala's hottest path:
// keepalived forks it per backend and input every delay_loop, so it builds
// the one command it runs, not the whole tree. What it accepts and prints
// is the same as under newRootCommand.
func newCheckRoot(streams IOStreams) *cobra.Command {
	root := &cobra.Command{Use: "hala", SilenceUsage: true, SilenceErrors: true}
	// cobra would build the completion commands at Execute: not for a check.
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.AddCommand(newCheckCommand(streams))
	return root
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
		Example: `  hala validate -i /etc/hala/inventory.toml
  hala render -i /etc/hala/inventory.toml -d out
  hala check --explain 192.168.1.210 udp-5514
  hala ipvs plan -i /etc/hala/inventory.toml --node stash1`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.HiddenDefaultCmd = false
	// Set before the completion command is made: it keeps the writer.
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.AddCommand(
		newVersionCommand(streams),
		newValidateCommand(streams),
		newRenderCommand(streams),
		newCheckCommand(streams),
		newIPVSCommand(streams),
		newVIPCommand(streams),
		newSysctlCommand(streams),
		newDirectorCommand(streams),
		newDiagnoseCommand(streams),
		newStatusCommand(streams),
		newDrainCommand(streams),
		newUndrainCommand(streams),
		newImportCommand(streams),
	)
	// cobra adds help and completion at Execute; adding them now lets the
	// walks below cover them too.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Run, c.RunE = nil, helpTopic
		case "completion":
			c.Example = `  hala completion bash > /etc/bash_completion.d/hala
  hala completion zsh > "${fpath[1]}/_hala"
  hala completion fish > ~/.config/fish/completions/hala.fish`
		}
	}
	requireKnownSubcommand(root)
	registerCompletions(root)
	return root
}

// requireKnownSubcommand makes every command that only groups others
// (the root, ipvs, vip, sysctl, completion, and any added later) fail on
// an unknown subcommand. cobra would print help and exit 0, so a typo in a
// script or a config-management run would report success.
func requireKnownSubcommand(c *cobra.Command) {
	for _, sub := range c.Commands() {
		requireKnownSubcommand(sub)
	}
	if !c.HasSubCommands() {
		return
	}
	if c.Runnable() {
		// A command that runs and also has subcommands (hala director,
		// hala director health): an argument is a mistyped subcommand.
		c.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return nil
		}
		return
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return unknownCommand(cmd, args[0])
		}
		return nil
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	// Runnable now only to reject typos: its usage shows no "hala ipvs [flags]".
	c.SetUsageTemplate(strings.Replace(c.UsageTemplate(), "{{if .Runnable}}", "{{if and .Runnable (not .HasAvailableSubCommands)}}", 1))
	if c.ValidArgsFunction == nil {
		c.ValidArgsFunction = cobra.NoFileCompletions
	}
	// The group has none of its subcommands' flags: in "hala ipvs aply -i
	// x.toml" the typo is the error, not the -i that plan would take.
	c.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		if cmd != c { // a subcommand inheriting this function
			return err
		}
		if args := cmd.Flags().Args(); len(args) > 0 {
			return unknownCommand(cmd, args[0])
		}
		return withHint(err, fmt.Sprintf("%s takes a command first: %s", cmd.CommandPath(), subcommandNames(cmd)))
	})
}

// unknownBeforeHelp refuses "hala agnet --help": cobra prints the help of
// the deepest command it knows and exits 0, so a typo would pass for
// success in a script. Only with -h/--help, on a tree of its own (parsing
// flags twice would append to list flags twice).
func unknownBeforeHelp(streams IOStreams, args []string) error {
	if !slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "--help" }) {
		return nil
	}
	cmd, rest, err := newRootCommand(streams).Find(args)
	if err != nil || !cmd.HasSubCommands() {
		return nil // Execute says what is wrong
	}
	cmd.InitDefaultHelpFlag()
	if cmd.ParseFlags(rest) != nil {
		return nil
	}
	if a := cmd.Flags().Args(); len(a) > 0 {
		return unknownCommand(cmd, a[0])
	}
	return nil
}

// unknownCommand is the error for name under cmd, with cobra's
// suggestions as the hint, or the list of commands when it has none.
func unknownCommand(cmd *cobra.Command, name string) error {
	err := fmt.Errorf("unknown command %q for %q", name, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		for i := range s {
			s[i] = strconv.Quote(s[i])
		}
		alt := s[len(s)-1]
		if len(s) > 1 {
			alt = strings.Join(s[:len(s)-1], ", ") + " or " + alt
		}
		return withHint(err, "did you mean "+alt+"?")
	}
	return withHint(err, fmt.Sprintf("%s takes one of: %s", cmd.CommandPath(), subcommandNames(cmd)))
}

func subcommandNames(cmd *cobra.Command) string {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return strings.Join(names, ", ")
}

// helpTopic is "hala help [command]": an unknown topic is an error, as an
// unknown command is.
func helpTopic(c *cobra.Command, args []string) error {
	cmd, rest, err := c.Root().Find(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return unknownCommand(cmd, rest[0])
	}
	cmd.InitDefaultHelpFlag()
	cmd.InitDefaultVersionFlag()
	return cmd.Help()
}
