//go:build linux

package ipvs

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/hala-lb/hala/pkg/internal/netnspath"
)

// setns moves the calling thread into the namespace open as fd; a test
// replaces it to make the switch back fail.
var setns = unix.Setns

// NamespaceID returns the inode number of the network namespace at nsPath,
// which names it as ip netns identify and lsns show it. A path that does
// not exist, or is not a network namespace, is an error that names the path
// (wrapping fs.ErrNotExist or ErrNotNamespace).
func NamespaceID(nsPath string) (uint64, error) {
	f, err := openNamespace(nsPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, fmt.Errorf("network namespace %s: %w", nsPath, err)
	}
	return st.Ino, nil
}

// openNamespace opens the network namespace at nsPath, refusing anything
// else.
func openNamespace(nsPath string) (*os.File, error) { return netnspath.Open(nsPath) }

// socketAt opens a generic netlink socket in the network namespace at
// nsPath ("" = the caller's); a socket keeps the namespace it was created
// in. The switch happens on a goroutine of its own, locked to its thread:
// the caller's thread never changes namespace, and if switching back fails
// the goroutine ends still locked, so the runtime ends the thread instead
// of handing it to other goroutines in the wrong namespace.
func socketAt(nsPath string) (int, error) {
	if nsPath == "" {
		return openSocket()
	}
	target, err := openNamespace(nsPath)
	if err != nil {
		return -1, err
	}
	defer target.Close()
	type result struct {
		fd  int
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{-1, fmt.Errorf("read the current network namespace: %w", err)}
			return
		}
		defer orig.Close()
		if err := setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread() // still in its own namespace
			done <- result{-1, fmt.Errorf("enter network namespace %s: %w", nsPath, err)}
			return
		}
		fd, err := openSocket()
		if setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		} // else: stay locked; the thread ends with this goroutine
		done <- result{fd, err}
	}()
	r := <-done
	return r.fd, r.err
}

func openSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return -1, fmt.Errorf("open generic netlink socket: %w", err)
	}
	return fd, nil
}
