// Command server serves a directory of Logstash API bodies on loopback for
// scripts/bench-check: GET /a/b answers with DIR/a/b/index.json, 404 when
// there is none. It prints "ready" once listening.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9600", "listen address (loopback only)")
	dir := flag.String("dir", ".", "directory mirroring the URL paths")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		fmt.Fprintf(os.Stderr, "server: %s: want a loopback address\n", *addr)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "server: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := filepath.Join(*dir, filepath.FromSlash(strings.Trim(filepath.Clean("/"+r.URL.Path), "/")), "index.json")
		data, err := os.ReadFile(p)
		if err != nil {
			http.Error(w, `{"status":404}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(data)
	})
	if err := http.Serve(ln, h); err != nil {
		fmt.Fprintf(os.Stderr, "server: %v\n", err)
		os.Exit(1)
	}
}
