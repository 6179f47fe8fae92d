//go:build linux

package ipvs

import (
	"errors"
	"os"
	"testing"
)

// On a kernel without IPVS, New must refuse with ErrUnsupported rather
// than hand out a handle that fails later (or, as moby/ipvs's does,
// "succeeds" at everything).
func TestNewFailsClearlyWithoutIPVS(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Skip("this kernel has IPVS loaded; the integration tests cover it")
	}
	h, err := New("")
	if err == nil {
		h.Close()
		t.Skip("IPVS became available (ip_vs loaded on demand)")
	}
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("New without IPVS: err = %v, want ErrUnsupported", err)
	}
	if want := `IPVS not supported: the kernel has no generic netlink family "IPVS" (ip_vs module not loaded)`; err.Error() != want {
		t.Errorf("message = %q, want %q", err.Error(), want)
	}
}
