package cli

import (
	"fmt"

	"github.com/hala-lb/hala/pkg/inventory"
)

// printWarnings prints the inventory's non-fatal findings to stderr, one
// "hala: warning: ..." line each: every command that loads an inventory
// calls it, so none hides them.
func printWarnings(streams IOStreams, inv *inventory.Inventory) {
	for _, w := range inv.Warnings {
		fmt.Fprintf(streams.ErrOut, "hala: warning: %s\n", w)
	}
}
