//go:build linux

package reconcile_test

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/hala-lb/hala/pkg/ipvs"
	"github.com/hala-lb/hala/pkg/reconcile"
)

// The caller's own namespace keeps the default state file, however it is
// named; a namespace path that does not exist is an error, not a silent
// fall back to the shared file.
func TestStatePathForOwnNamespace(t *testing.T) {
	for _, ns := range []string{"", "/proc/self/ns/net"} {
		if p, err := reconcile.StatePathFor(ns); err != nil || p != reconcile.DefaultStatePath {
			t.Errorf("StatePathFor(%q) = %q, %v; want %s", ns, p, err, reconcile.DefaultStatePath)
		}
	}
	if p, err := reconcile.StatePathFor("/run/netns/hala-no-such-ns"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing namespace gave %q, %v", p, err)
	}
}

// A file that is not a network namespace names no state file: before, its
// inode did, and /etc/passwd got one of its own.
func TestStatePathForRefusesFilesThatAreNotNamespaces(t *testing.T) {
	p, err := reconcile.StatePathFor("/etc/passwd")
	if !errors.Is(err, ipvs.ErrNotNamespace) || err.Error() != "/etc/passwd: not a network namespace (use a path such as /run/netns/NAME or /proc/PID/ns/net)" {
		t.Errorf("StatePathFor(/etc/passwd) = %q, %v", p, err)
	}
}
