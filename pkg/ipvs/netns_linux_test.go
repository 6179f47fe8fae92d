//go:build linux

package ipvs

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// When switching back out of the target namespace fails, the socket is
// still returned, the caller goes on (before, its goroutine was ended with
// runtime.Goexit: on the main goroutine, a crash), and the thread left in
// the target namespace is ended rather than reused. setns is faked: the
// switch back fails, and no namespace is really entered.
func TestSocketAtDropsAThreadLeftInTheNamespace(t *testing.T) {
	var (
		mu    sync.Mutex
		calls int
		tid   int
	)
	setns = func(fd, nstype int) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			tid = unix.Gettid()
			return nil
		}
		return unix.EPERM
	}
	t.Cleanup(func() { setns = unix.Setns })

	returned := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				returned <- fmt.Errorf("panic: %v", r)
			}
		}()
		ended := true
		defer func() {
			if ended {
				returned <- errors.New("socketAt ended the caller's goroutine")
			}
		}()
		fd, err := socketAt("/proc/self/ns/net")
		ended = false
		if err == nil {
			unix.Close(fd)
		}
		returned <- err
	}()
	if err := <-returned; err != nil {
		t.Fatalf("socketAt: %v", err)
	}
	if calls != 2 {
		t.Fatalf("setns called %d times, want 2 (enter, leave)", calls)
	}
	// The runtime ends a thread whose goroutine exits locked (the main
	// thread it parks for good instead). Either way no goroutine runs on it
	// again: holding more threads locked at once than the runtime keeps
	// idle, every idle thread is taken, and the dropped one is not among
	// them.
	const n = 64
	tids := make(chan int, n)
	var all, release sync.WaitGroup
	all.Add(n)
	release.Add(1)
	for range n {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tids <- unix.Gettid()
			all.Done()
			release.Wait()
		}()
	}
	all.Wait()
	release.Done()
	close(tids)
	for id := range tids {
		if id == tid {
			t.Fatalf("thread %d, left in the target namespace, runs goroutines again", tid)
		}
	}
}

// Paths that are not network namespaces are refused with a message about
// the path, before any switch is tried.
func TestNamespacePathsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		path string
		is   error
		msg  string
	}{
		{"/nonexistent", fs.ErrNotExist, "network namespace /nonexistent: no such file or directory"},
		{"/etc/passwd", ErrNotNamespace, "/etc/passwd: not a network namespace (use a path such as /run/netns/NAME or /proc/PID/ns/net)"},
		{"/proc/self/ns/uts", ErrNotNamespace, "/proc/self/ns/uts: not a network namespace (another kind of namespace)"},
	} {
		_, err := NamespaceID(tc.path)
		if !errors.Is(err, tc.is) || err.Error() != tc.msg {
			t.Errorf("NamespaceID(%s) = %v, want %q", tc.path, err, tc.msg)
		}
		if _, err := socketAt(tc.path); !errors.Is(err, tc.is) {
			t.Errorf("socketAt(%s) = %v, want %v", tc.path, err, tc.is)
		}
	}
	id, err := NamespaceID("/proc/self/ns/net")
	var st unix.Stat_t
	if err != nil || unix.Stat("/proc/self/ns/net", &st) != nil || id != st.Ino {
		t.Errorf("NamespaceID(/proc/self/ns/net) = %d, %v; want inode %d", id, err, st.Ino)
	}
}
