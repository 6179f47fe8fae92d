//go:build !linux

package ipvs

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// DefaultTimeout bounds one netlink call when the caller's context has no
// earlier deadline.
const DefaultTimeout = 5 * time.Second

// Handle reads and writes the IPVS table of one network namespace. On this
// system there is none: every method returns ErrUnsupported.
type Handle struct {
	// Timeout bounds each netlink call (DefaultTimeout when 0).
	Timeout time.Duration
}

func unsupported() error {
	return fmt.Errorf("%w: IPVS is a Linux kernel feature, this is %s", ErrUnsupported, runtime.GOOS)
}

// New returns ErrUnsupported: IPVS exists only on Linux.
func New(nsPath string) (*Handle, error) { return nil, unsupported() }

// Close does nothing.
func (h *Handle) Close() error { return nil }

// Writes returns 0.
func (h *Handle) Writes() uint64 { return 0 }

// Batch returns ErrUnsupported for every request.
func (h *Handle) Batch(ctx context.Context, reqs []Request) []error {
	errs := make([]error, len(reqs))
	for i := range errs {
		errs[i] = unsupported()
	}
	return errs
}

// Entries returns ErrUnsupported.
func (h *Handle) Entries(ctx context.Context) ([]Entry, error) { return nil, unsupported() }

// NamespaceID returns ErrUnsupported: network namespaces are Linux's.
func NamespaceID(nsPath string) (uint64, error) { return 0, unsupported() }
