//go:build !linux

package vip

// Handle changes interface addresses in one network namespace; on this
// system every call returns ErrUnsupported.
type Handle struct{}

// New returns ErrUnsupported: virtual IPs need Linux netlink.
func New(nsPath string) (*Handle, error) { return nil, ErrUnsupported }

// Close does nothing.
func (h *Handle) Close() error { return nil }

// Add returns ErrUnsupported.
func (h *Handle) Add(a Address) (Change, error) { return Change{}, ErrUnsupported }

// Delete returns ErrUnsupported.
func (h *Handle) Delete(a Address) (Change, error) { return Change{}, ErrUnsupported }

// Show returns ErrUnsupported.
func (h *Handle) Show(addrs []Address) ([]State, error) { return nil, ErrUnsupported }

// AddDummy returns ErrUnsupported.
func (h *Handle) AddDummy(name string) error { return ErrUnsupported }
