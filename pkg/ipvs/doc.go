// Package ipvs reads and writes the kernel's IPVS table (virtual services
// and their real servers, "destinations") over generic netlink, in hala's
// own types built on net/netip.
//
// Every call goes through a small generic netlink client of its own
// (netlink_linux.go): Handle.Batch for writes, Handle.Entries for reads.
// It replaced github.com/moby/ipvs, which makes one round trip per request
// and allocates a 64 KiB buffer per call (converging thousands of rules took
// longer than ipvsadm-restore), has no deadline on a lost reply, and reports
// no error when the kernel has no IPVS. Batch pipelines up to a few hundred
// requests per sendmsg, asks the kernel to acknowledge only the last one (it
// reports every failure anyway) and stops after a batch with a failure; see
// Batch for exactly what it reports. moby/ipvs is still used by the tests,
// next to ipvsadm, as an independent reader of what Batch wrote.
//
// What the client takes care of:
//
//   - New probes the generic netlink family "IPVS" and fails with an error
//     that wraps ErrUnsupported when the kernel has none.
//   - Flags read back include the kernel's hashed bit (FlagHashed): reads
//     mask it off, so a Service read from the kernel compares equal to the
//     one that was written.
//   - A persistence netmask of 0 would put every client in one persistence
//     group: requests fill in DefaultNetmask (255.255.255.255 for IPv4, /128
//     for IPv6) when Netmask is 0.
//   - Weights above MaxWeight (65535) are rejected by Validate before any
//     request is sent.
//   - Every call runs under a deadline (the caller's context, and at most
//     Handle.Timeout, as a socket timeout). When it expires the socket is
//     closed, the call returns an error, and the next call opens a new
//     socket. Calls on one Handle are serialised.
//   - A dump the kernel flags as interrupted (NLM_F_DUMP_INTR: the table
//     changed while it was sent) is made again, a few times at most, then
//     fails wrapping ErrDumpInterrupted.
//
// A Handle is bound to one network namespace (New("") is the caller's), so
// tests aim it at a throwaway namespace. The socket is created on a
// goroutine locked to its own thread, which switches into the namespace and
// back; the caller's thread never moves, and a thread that cannot switch
// back is ended, never reused. A path that is not a network namespace is
// refused with ErrNotNamespace; NamespaceID names a namespace by inode. Handle.Writes counts the requests
// that change the table, which is how callers prove a no-op made none.
//
// Every kernel operation names its shell equivalent in its doc comment.
// This package imports no other hala package. On systems other than Linux
// New returns ErrUnsupported.
package ipvs
