// Command logstash-standin runs the Logstash stand-in of package standin:
// inputs that append JSON lines to a file, the monitoring API, and a
// control socket for fault injection. The end-to-end suite runs it in each
// stash namespace; it is never installed with hala.
//
// Example:
//
//	logstash-standin -name stash1 -api 192.168.1.210:9600 \
//	    -input udp-5514=udp://192.168.1.210:5514 \
//	    -out /tmp/itworked.json -control /run/standin-stash1.sock
//	echo 'input stop udp-5514' | socat - UNIX-CONNECT:/run/standin-stash1.sock
//	echo 'process delay 10ms' | socat - UNIX-CONNECT:/run/standin-stash1.sock
package main

import (
	"os"

	"github.com/hala-lb/hala/pkg/internal/e2e/standin"
)

func main() {
	os.Exit(standin.Main(os.Args[1:], os.Stdout, os.Stderr))
}
