//go:build !linux

package keepalived

import "os"

// kernelFile names the kernel file system f is on: none outside Linux
// (the size check in readFile still refuses a file whose size lies).
func kernelFile(*os.File) string { return "" }
