package cli

import (
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// commandTree is every command hala has, cobra's help and completion too.
func commandTree(t *testing.T) []*cobra.Command {
	t.Helper()
	var all []*cobra.Command
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		all = append(all, c)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCommand(IOStreams{}))
	if len(all) < 15 {
		t.Fatalf("walked %d commands: the tree is not built", len(all))
	}
	return all
}

// pathArgs is a command's path as arguments: "hala ipvs plan" → [ipvs plan].
func pathArgs(c *cobra.Command) []string {
	return strings.Fields(c.CommandPath())[1:]
}

// TestUnknownSubcommandFails: a typo under any command that groups others
// exits 1 naming the typo and the command, where cobra printed help and
// exited 0 (a config-management run reported success).
func TestUnknownSubcommandFails(t *testing.T) {
	groups := 0
	for _, c := range commandTree(t) {
		if !c.HasSubCommands() {
			continue
		}
		groups++
		for _, extra := range [][]string{nil, {"-i", "x.toml"}, {"--node", "stash1"}} {
			args := append(append(pathArgs(c), "bogus"), extra...)
			code, stdout, stderr := runHala(t, args...)
			want := `hala: error: unknown command "bogus" for "` + c.CommandPath() + `"` + "\nhala: hint: "
			if code != 1 || stdout != "" || !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 2 {
				t.Errorf("hala %s: exit %d stdout %q stderr %q\n want exit 1 and %q...", strings.Join(args, " "), code, stdout, stderr, want)
			}
		}
		// The group alone still shows its help (a command that also runs,
		// like hala director, runs instead).
		if c.Runnable() && c.RunE != nil && c.Name() == "director" {
			continue
		}
		if code, stdout, stderr := runHala(t, pathArgs(c)...); code != 0 || !strings.Contains(stdout, "Available Commands:") || stderr != "" {
			t.Errorf("%s alone: exit %d stdout %q stderr %q, want its help", c.CommandPath(), code, stdout, stderr)
		}
	}
	if groups < 5 { // hala, ipvs, vip, sysctl, completion
		t.Errorf("found %d commands with subcommands, want at least 5", groups)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ipvs", "pln"}, `unknown command "pln" for "hala ipvs"` + "\nhala: hint: did you mean \"plan\"?\n"},
		{[]string{"vip", "ad"}, `unknown command "ad" for "hala vip"` + "\nhala: hint: did you mean \"add\"?\n"},
		{[]string{"sysctl", "aply"}, `unknown command "aply" for "hala sysctl"` + "\nhala: hint: did you mean \"apply\"?\n"},
		{[]string{"completion", "tcsh"}, `unknown command "tcsh" for "hala completion"` + "\nhala: hint: did you mean \"bash\", \"fish\" or \"zsh\"?\n"},
		{[]string{"ipvs", "aply", "-i", "x.toml"}, `unknown command "aply" for "hala ipvs"` + "\nhala: hint: did you mean \"apply\"?\n"},
		{[]string{"rendr", "-i", "x.toml", "-o", "out"}, `unknown command "rendr" for "hala"` + "\nhala: hint: did you mean \"render\"?\n"},
		{[]string{"help", "ipvs", "pln"}, `unknown command "pln" for "hala ipvs"` + "\nhala: hint: did you mean \"plan\"?\n"},
		{[]string{"ipvs", "--inventory", "x.toml"}, "unknown flag: --inventory\nhala: hint: hala ipvs takes a command first: apply, plan, show\n"},
		// With --help too: cobra would print the parent's help and exit 0.
		{[]string{"ipvs", "pln", "--help"}, `unknown command "pln" for "hala ipvs"` + "\nhala: hint: did you mean \"plan\"?\n"},
		{[]string{"director", "helth", "-h"}, `unknown command "helth" for "hala director"` + "\nhala: hint: did you mean \"health\"?\n"},
		{[]string{"rendr", "--help"}, `unknown command "rendr" for "hala"` + "\nhala: hint: did you mean \"render\"?\n"},
	} {
		code, stdout, stderr := runHala(t, tc.args...)
		if code != 1 || stdout != "" || stderr != "hala: error: "+tc.want {
			t.Errorf("hala %s: exit %d stdout %q stderr %q\n want exit 1 and %q", strings.Join(tc.args, " "), code, stdout, stderr, "hala: error: "+tc.want)
		}
	}
}

// TestUnknownSubcommandExitStatus: the binary itself exits 1.
func TestUnknownSubcommandExitStatus(t *testing.T) {
	out, err := exec.Command(testutil.HalaBinary(t), "ipvs", "pln").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), `did you mean "plan"?`) {
		t.Errorf("hala ipvs pln: %v %q, want exit status 1 and the suggestion", err, out)
	}
}

// TestHelpExamplesAndFlagNames: every command that groups others, and
// version, shows examples; a flag names its argument the same way on
// every command, never by its Go type ("-i, --inventory string").
func TestHelpExamplesAndFlagNames(t *testing.T) {
	seen := map[string]string{} // flag name → argument name
	where := map[string]string{}
	for _, c := range commandTree(t) {
		if (c.HasSubCommands() || c.Name() == "version") && strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s: no Example in its help", c.CommandPath())
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" || f.Value.Type() == "bool" || f.Hidden {
				return
			}
			arg, _ := pflag.UnquoteUsage(f)
			if arg != strings.ToUpper(arg) || arg == "" {
				t.Errorf("%s --%s: argument shown as %q, want a name such as FILE", c.CommandPath(), f.Name, arg)
			}
			// NAME=ADDR (hala import --director) names the same thing as
			// NAME (hala drain --director), with its address.
			if prev, ok := seen[f.Name]; ok && prev != arg && !strings.HasPrefix(prev, arg+"=") && !strings.HasPrefix(arg, prev+"=") {
				t.Errorf("--%s is %s on %s but %s on %s", f.Name, prev, where[f.Name], arg, c.CommandPath())
			}
			seen[f.Name], where[f.Name] = arg, c.CommandPath()
			if f.Name == "inventory" && f.Shorthand != "i" {
				t.Errorf("%s: --inventory has shorthand %q, want -i", c.CommandPath(), f.Shorthand)
			}
		})
	}
	// Examples name the inventory where the package and setup.sh put it,
	// so that they work as shown once installed.
	for _, c := range commandTree(t) {
		for _, m := range regexp.MustCompile(`(?:-i|--inventory|hala (?:validate|status)(?: -i)?) (\S+)`).FindAllStringSubmatch(c.Example, -1) {
			if m[1] != "/etc/hala/inventory.toml" && m[1] != "/etc/hala/inventory.toml.example" && m[1] != "FILE" && !strings.HasPrefix(m[1], "-") {
				t.Errorf("%s: example names the inventory %s, want /etc/hala/inventory.toml", c.CommandPath(), m[1])
			}
		}
	}
	if seen["inventory"] != "FILE" || seen["node"] != "NAME" || seen["vip"] != "NAME" {
		t.Errorf("arguments: inventory %q node %q vip %q, want FILE, NAME, NAME", seen["inventory"], seen["node"], seen["vip"])
	}
	_, stdout, _ := runHala(t, "vip", "add", "--help")
	if !strings.Contains(stdout, "-i, --inventory FILE") {
		t.Errorf("hala vip add --help:\n%s\nwant -i, --inventory FILE", stdout)
	}
}

// complete asks cobra's hidden __complete command, as the shell scripts
// do, and returns the candidates without descriptions and the directive.
func complete(t *testing.T, args ...string) (names []string, directive string) {
	t.Helper()
	code, stdout, stderr := runHala(t, append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %q: exit %d %s", args, code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	for _, l := range lines[:len(lines)-1] {
		name, _, _ := strings.Cut(l, "\t")
		names = append(names, name)
	}
	return names, lines[len(lines)-1]
}

// TestCompletion: --node and --vip complete from the inventory given by
// -i (directors where a director is meant, any host elsewhere), -o from
// the command's formats, each accepted by the command.
func TestCompletion(t *testing.T) {
	const aa = "../../examples/active-active.toml" // directors lb1-3, Logstash hosts ls1-4
	directors := "lb1 lb2 lb3"
	hosts := "lb1 lb2 lb3 ls1 ls2 ls3 ls4"
	nodeFlags, vipFlags, outputFlags := 0, 0, 0
	for _, c := range commandTree(t) {
		path := pathArgs(c)
		if c.LocalFlags().Lookup("node") != nil {
			nodeFlags++
			want := hosts
			if path[0] == "ipvs" || path[0] == "vip" || path[0] == "director" || path[0] == "status" {
				want = directors
			}
			if path[0] == "agent" {
				want = "ls1 ls2 ls3 ls4"
			}
			if got, d := complete(t, append(path, "-i", aa, "--node", "")...); strings.Join(got, " ") != want || d != ":4" {
				t.Errorf("%s --node: %q %s, want %q and no file names (:4)", c.CommandPath(), got, d, want)
			}
			if got, _ := complete(t, append(path, "-i", aa, "--node", "ls")...); path[0] == "render" && strings.Join(got, " ") != "ls1 ls2 ls3 ls4" {
				t.Errorf("%s --node ls: %q, want the ls hosts only", c.CommandPath(), got)
			}
			if got, d := complete(t, append(path, "--node", "")...); len(got) != 0 || d != ":4" {
				t.Errorf("%s --node without -i: %q %s, want nothing", c.CommandPath(), got, d)
			}
		}
		if c.LocalFlags().Lookup("vip") != nil {
			vipFlags++
			if got, _ := complete(t, append(path, "-i", aa, "--vip", "")...); strings.Join(got, " ") != "logs-a logs-b" {
				t.Errorf("%s --vip: %q, want logs-a logs-b", c.CommandPath(), got)
			}
		}
		if f := c.LocalFlags().ShorthandLookup("o"); f != nil {
			outputFlags++
			got, d := complete(t, append(path, "-o", "")...)
			if path[0] == "render" {
				// The old spelling of -d: hidden, still a directory.
				if got, d := complete(t, append(path, "-d", "")...); len(got) != 0 || d != ":16" {
					t.Errorf("render -d: %q %s, want directories (:16)", got, d)
				}
				continue
			}
			if path[0] == "import" {
				// The old spelling of --out-file: hidden, a file.
				if got, d := complete(t, append(path, "--out-file", "")...); !slices.Equal(got, []string{"toml"}) || d != ":8" {
					t.Errorf("import --out-file: %q %s, want .toml files (:8)", got, d)
				}
				continue
			}
			if len(got) == 0 || d != ":4" {
				t.Errorf("%s -o: %q %s, want its formats", c.CommandPath(), got, d)
			}
			// Each format offered is one the command takes (it goes on to
			// read the inventory), and a wrong one is refused.
			for _, format := range append(got, "yaml") {
				rest := []string{"-i", "/nonexistent/inv.toml"}
				if c.LocalFlags().Lookup("inventory") == nil {
					rest = []string{"--timeout", "100ms", "192.0.2.1"} // hala diagnose <ip>
				}
				_, _, stderr := runHala(t, append(append(path, "-o", format), rest...)...)
				refused := strings.Contains(stderr, "unknown output format")
				if refused != (format == "yaml") {
					t.Errorf("%s -o %s: stderr %q", c.CommandPath(), format, stderr)
				}
			}
		}
	}
	if nodeFlags < 7 || vipFlags < 3 || outputFlags < 3 {
		t.Errorf("walked %d --node, %d --vip, %d -o flags: fewer than the tree has", nodeFlags, vipFlags, outputFlags)
	}
	if got, _ := complete(t, "ipvs", "pl"); strings.Join(got, " ") != "plan" {
		t.Errorf("ipvs pl: %q, want plan", got)
	}
	if got, _ := complete(t, "check", "--scheme", ""); strings.Join(got, " ") != "http https" {
		t.Errorf("check --scheme: %q, want http https", got)
	}
	// The script goes to the command's stdout (the completion command is
	// made before Run sets the streams).
	if code, stdout, _ := runHala(t, "completion", "bash"); code != 0 || !strings.Contains(stdout, "bash completion V2 for hala") {
		t.Errorf("completion bash: exit %d, stdout %.60q", code, stdout)
	}
	// drain and undrain complete backends from -i, never file names.
	for _, cmd := range []string{"drain", "undrain"} {
		if got, d := complete(t, cmd, "-i", aa, ""); strings.Join(got, " ") != "ls1 ls2 ls3 ls4" || d != ":4" {
			t.Errorf("%s: %q %s, want the backends ls1-ls4 and no file names", cmd, got, d)
		}
	}
}
