// Package vip puts virtual IP addresses on, and takes them off, network
// interfaces over netlink, for sites that run IPVS without keepalived (or
// announce the address some other way) and want the director to hold its
// VIPs from the same inventory.
//
// A Handle is bound to one network namespace (New("") is the current one),
// so tests aim it at a throwaway namespace and never touch the host's.
// Add and Delete are idempotent: they read the interface's addresses first
// and change only what differs, reporting what they did as a Change.
//
// vip imports no other hala package; pkg/cli maps the inventory's VIPs to
// Address values. Only this package and pkg/ipvs import the netlink
// libraries. On systems other than Linux every call returns ErrUnsupported.
package vip
