// Command floor is the least a Go health check can cost: one process that
// GETs a URL with net/http, reads the body and exits 0 on a 200. It links
// nothing else, so `make bench-check` measures hala check against it.
//
//	floor http://127.0.0.86:9600/_node/stats/pipelines/main
package main

import (
	"io"
	"net/http"
	"os"
)

func main() {
	resp, err := http.Get(os.Args[1])
	if err != nil {
		os.Exit(1)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		os.Exit(1)
	}
}
