package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/inventory"
)

type validateFlags struct {
	inventory string
}

func newValidateCommand(streams IOStreams) *cobra.Command {
	flags := &validateFlags{}
	cmd := &cobra.Command{
		Use:   "validate [-i] FILE",
		Short: "Check an inventory and list every problem with its line and key",
		Long: `Validate reads a TOML inventory strictly (unknown keys are errors), applies
the defaults and checks it the way render would: names, addresses, VIP
prefixes, VRRP router ids, ports, schedulers, check timing and more.

It prints "FILE: ok (...)" and any warnings, or every problem as
"file:line:col: key.path: message" and exits 1.`,
		Example: `  hala validate -i /etc/hala/inventory.toml
  hala validate /etc/hala/inventory.toml.example`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := inventoryArg(&flags.inventory, args, "hala validate"); err != nil {
				return err
			}
			return runValidate(streams, flags)
		},
	}
	cmd.Flags().StringVarP(&flags.inventory, "inventory", "i", "", "inventory `FILE` (TOML)")
	return cmd
}

// inventoryArg takes the inventory from -i or from the one argument, as
// "hala validate FILE" and "hala status FILE" accept either.
func inventoryArg(inventory *string, args []string, command string) error {
	if len(args) == 1 {
		if *inventory != "" && *inventory != args[0] {
			return withHint(errors.New("two inventories given"), "pass the file either with -i or as an argument")
		}
		*inventory = args[0]
	}
	if *inventory == "" {
		return withHint(errors.New("no inventory given"), command+" -i FILE")
	}
	return nil
}

func runValidate(streams IOStreams, flags *validateFlags) error {
	inv, err := inventory.Load(flags.inventory)
	if err != nil {
		return problemsError(flags.inventory, err)
	}
	printWarnings(streams, inv)
	_, err = fmt.Fprintf(streams.Out, "%s: ok (%s)\n", flags.inventory, inv.Summary())
	return err
}

// problemsError puts a count line above an inventory's problems, so each
// problem starts its own line after "hala: error: ".
func problemsError(file string, err error) error {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return err
	}
	n := len(joined.Unwrap())
	noun := "problems"
	if n == 1 {
		noun = "problem"
	}
	err = fmt.Errorf("%s: %d %s:\n%w", file, n, noun, err)
	if errors.Is(err, inventory.ErrPlaceholder) {
		return withHint(err, "hala import writes 0.0.0.0 where keepalived.conf names no director address (multicast VRRP), router_id 0 where no vrrp_instance holds a virtual_server's address, and input_id \"\" where no checker names a Logstash input: set each in "+file+" (the comments beside them say what keepalived had), or import again with --director NAME=ADDR for the addresses")
	}
	return err
}
