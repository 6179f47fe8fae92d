// Command inventory writes the benchmark inventory, inventorytest.Synthetic,
// to standard output: the one generator behind scripts/bench-ipvs and the
// Go benchmarks, so both measure the same table. scripts/vmtest-suite
// builds it on the host for the test VM, which has no Go toolchain.
//
//	inventory -services 1000 -backends 10 >inventory.toml
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hala-lb/hala/pkg/inventory/inventorytest"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "inventory:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inventory", flag.ContinueOnError)
	fs.SetOutput(stderr)
	services := fs.Int("services", 1000, "UDP services, on ports 20000...")
	backends := fs.Int("backends", 10, "Logstash hosts, each behind every service")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// The addresses Synthetic writes end at 10.1.0.250; 30,000 services
	// with 250 backends stay below inventory.MaxFileSize (4 MiB).
	if *backends < 1 || *backends > 250 || *services < 1 || *services > 30000 {
		return fmt.Errorf("want 1-250 backends and 1-30000 services, not %d and %d", *backends, *services)
	}
	_, err := io.WriteString(stdout, inventorytest.Synthetic(*backends, *services, inventorytest.Keepalived))
	return err
}
