// Package ipvs reads and writes the kernel's IPVS table (virtual services
// and their real servers, "destinations") over generic netlink, in hala's
// own types built on net/netip.
//
// Reads of single objects (Handle.Services, Handle.Destinations) go
// through github.com/moby/ipvs v1.1.0. Writes and the whole-table read
// (Handle.Batch and the single-change methods built on it, Handle.Entries)
// go through a small generic netlink client of its own (netlink_linux.go),
// because moby/ipvs makes one round trip per request and allocates a
// 64 KiB buffer per call: converging thousands of rules took longer than
// ipvsadm-restore. Batch pipelines up to a few hundred requests per
// sendmsg, asks the kernel to acknowledge only the last one (it reports
// every failure anyway) and stops after a batch with a failure; see Batch
// for exactly what it reports.
//
// The package works around moby/ipvs's known limits, in both paths:
//
//   - moby/ipvs returns no error when the kernel has no IPVS (its issue 27):
//     New probes the generic netlink family "IPVS" first and fails with an
//     error that wraps ErrUnsupported.
//   - Flags read back include the kernel's hashed bit (FlagHashed): reads
//     mask it off, so a Service read from the kernel compares equal to the
//     one that was written.
//   - A persistence netmask of 0 would put every client in one persistence
//     group: New* fill in DefaultNetmask (255.255.255.255 for IPv4, /128 for
//     IPv6) when Netmask is 0.
//   - Weights above 65535 are misread: Validate rejects them.
//   - A lost netlink reply makes moby/ipvs retry its receive forever: every
//     call here runs under a deadline (the caller's context, and at most
//     Handle.Timeout; socket timeouts in the own client). When it expires
//     the socket is closed, the call returns an error, and the next call
//     opens a new socket. Calls on one Handle are serialised.
//
// A Handle is bound to one network namespace (New("") is the caller's), so
// tests aim it at a throwaway namespace. Handle.Writes counts the requests
// that change the table, which is how callers prove a no-op made none.
//
// Every kernel operation names its shell equivalent in its doc comment.
// This package imports no other hala package. On systems other than Linux
// New returns ErrUnsupported.
package ipvs
