//go:build unix

package keepalived

import (
	"os"
	"syscall"
)

// openNonblock opens path for reading without blocking: a read of a
// character device or a kernel file with nothing to give returns EAGAIN
// instead of waiting.
func openNonblock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
