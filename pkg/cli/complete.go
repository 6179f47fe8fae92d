package cli

import (
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/inventory"
)

// directorCommands are the commands whose --node names a [[director]];
// hala agent's names a [[logstash]] host; elsewhere (render, sysctl
// apply) it names any host.
var directorCommands = []string{"hala ipvs", "hala vip", "hala director", "hala status"}

// outputFormats are the values -o/--output takes, by command.
var outputFormats = map[string][]string{
	"hala ipvs plan": {"text", "json", "shell"},
	"hala ipvs show": {"text", "json"},
	"hala diagnose":  {"text", "json"},
	"hala status":    {"text", "json"},
}

// registerCompletions teaches shell completion what flag values name: -i
// an inventory file, --node and --vip names in the inventory given by -i,
// -o a format, render's -d a directory. It walks the tree, so a command added later
// with the same flags gets the same completion.
func registerCompletions(c *cobra.Command) {
	for _, sub := range c.Commands() {
		registerCompletions(sub)
	}
	fl := c.Flags()
	if fl.Lookup("inventory") != nil {
		_ = c.MarkFlagFilename("inventory", "toml")
	}
	if fl.Lookup("node") != nil {
		names := hostNames
		for _, p := range directorCommands {
			if c.CommandPath() == p || strings.HasPrefix(c.CommandPath(), p+" ") {
				names = directorNames
			}
		}
		if c.CommandPath() == "hala agent" { // its --node is a [[logstash]] host
			names = backendNames
		}
		_ = c.RegisterFlagCompletionFunc("node", fromInventory(names))
	}
	if fl.Lookup("vip") != nil {
		_ = c.RegisterFlagCompletionFunc("vip", fromInventory(vipCompletions))
	}
	// drain and undrain take backends: the [[logstash]] hosts of -i.
	if (c.CommandPath() == "hala drain" || c.CommandPath() == "hala undrain") && c.ValidArgsFunction == nil {
		c.ValidArgsFunction = fromInventory(backendNames)
	}
	if o := fl.ShorthandLookup("o"); o != nil {
		if formats, ok := outputFormats[c.CommandPath()]; ok {
			_ = c.RegisterFlagCompletionFunc(o.Name, cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
		}
	}
	if fl.Lookup("out-file") != nil {
		_ = c.MarkFlagFilename("out-file", "toml")
	}
	if fl.Lookup("dir") != nil {
		_ = c.MarkFlagDirname("dir")
	}
}

// fromInventory completes a flag from the inventory named by the command's
// -i; without a readable, valid one it offers nothing (never file names).
func fromInventory(names func(*inventory.Inventory) []cobra.Completion) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		path, _ := cmd.Flags().GetString("inventory")
		if path == "" {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		inv, err := inventory.Load(path)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, c := range names(inv) {
			if strings.HasPrefix(c, toComplete) {
				out = append(out, c)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func directorNames(inv *inventory.Inventory) []cobra.Completion {
	var out []cobra.Completion
	for _, d := range inv.Directors {
		out = append(out, cobra.CompletionWithDesc(d.Name, "director "+d.Address.String()))
	}
	return out
}

// hostNames are the directors and Logstash hosts; a host that is both is
// listed once.
func hostNames(inv *inventory.Inventory) []cobra.Completion {
	desc := map[string]string{}
	for _, d := range inv.Directors {
		desc[d.Name] = "director " + d.Address.String()
	}
	for _, l := range inv.Logstash {
		if d, ok := desc[l.Name]; ok {
			desc[l.Name] = d + ", logstash"
		} else {
			desc[l.Name] = "logstash " + l.Address.String()
		}
	}
	names := make([]string, 0, len(desc))
	for n := range desc {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]cobra.Completion, len(names))
	for i, n := range names {
		out[i] = cobra.CompletionWithDesc(n, desc[n])
	}
	return out
}

func backendNames(inv *inventory.Inventory) []cobra.Completion {
	var out []cobra.Completion
	for _, l := range inv.Logstash {
		out = append(out, cobra.CompletionWithDesc(l.Name, "logstash "+l.Address.String()))
	}
	return out
}

func vipCompletions(inv *inventory.Inventory) []cobra.Completion {
	var out []cobra.Completion
	for _, v := range inv.VIPs {
		out = append(out, cobra.CompletionWithDesc(v.Name, v.Address.String()))
	}
	return out
}
