//go:build !unix

package keepalived

import "os"

// openNonblock opens path for reading (non-blocking opens are Unix-only).
func openNonblock(path string) (*os.File, error) {
	return os.Open(path)
}
