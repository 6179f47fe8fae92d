//go:build linux

package reconcile_test

import (
	"testing"

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
	if p, err := reconcile.StatePathFor("/run/netns/hala-no-such-ns"); err == nil {
		t.Errorf("missing namespace gave %q", p)
	}
}
