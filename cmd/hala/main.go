// Command hala makes Logstash and other UDP/TCP log receivers highly
// available and load-balanced with keepalived and the kernel's IPVS.
package main

import (
	"os"

	"github.com/hala-lb/hala/pkg/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
