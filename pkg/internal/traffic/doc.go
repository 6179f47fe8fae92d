// Package traffic holds hala's real-traffic tests: UDP datagrams from a
// client namespace to a VIP on a director namespace, forwarded by the
// kernel's IPVS (programmed with `hala ipvs apply`, the VIP put up with
// `hala vip add`, the sysctls set with `hala sysctl apply`) to real-server
// namespaces that count what they receive.
//
// They prove why one_packet (ipvsadm -o) matters for syslog: a sender uses
// one source port, so without it IPVS keeps one connection entry and every
// datagram goes to one real server.
//
// The tests need root and a kernel with IPVS (run them in the test VM:
// make test-vm). The package has no code of its own and imports no other
// hala package outside its tests.
package traffic
