// Command hala-director is hala with the director linked in: hala
// director executes it (same arguments), so that the hala binary, which
// keepalived forks for every check, stays free of the director's
// dependencies. See docs/architecture.md.
package main

import (
	"os"

	"github.com/hala-lb/hala/pkg/cli"
	"github.com/hala-lb/hala/pkg/cli/directord"
)

func main() {
	os.Exit(cli.RunDirector(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, directord.Run))
}
