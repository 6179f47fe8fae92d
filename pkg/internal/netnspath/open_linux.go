//go:build linux

package netnspath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// nsGetNSType is NS_GET_NSTYPE from linux/nsfs.h (_IO(0xb7, 0x3)), which
// golang.org/x/sys does not define: it asks a namespace file which kind of
// namespace it is (Linux 4.11+).
const nsGetNSType = 0xb703

// Open opens the network namespace at path. A path that does not exist,
// or is not a network namespace, is an error that names the path
// (wrapping fs.ErrNotExist or ErrNotNamespace).
func Open(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in the message already
		}
		return nil, fmt.Errorf("network namespace %s: %w", path, err)
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &sfs); err != nil {
		f.Close()
		return nil, fmt.Errorf("network namespace %s: %w", path, err)
	}
	if sfs.Type != unix.NSFS_MAGIC {
		f.Close()
		return nil, fmt.Errorf("%s: %w (use a path such as /run/netns/NAME or /proc/PID/ns/net)", path, ErrNotNamespace)
	}
	// nsfs holds every kind of namespace; kernels before 4.11 cannot say
	// which, and setns will tell.
	if t, err := unix.IoctlRetInt(int(f.Fd()), nsGetNSType); err == nil && t != unix.CLONE_NEWNET {
		f.Close()
		return nil, fmt.Errorf("%s: %w (another kind of namespace)", path, ErrNotNamespace)
	}
	return f, nil
}
