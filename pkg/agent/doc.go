// Package agent is hala agent: it runs on each Logstash host, watches the
// sockets the host's inputs must be bound to, and streams their state to
// the directors.
//
// The kernel says the moment a socket is destroyed: sock_diag (netlink)
// broadcasts every destruction of a TCP or UDP socket to the multicast
// groups SKNLGRP_INET{,6}_{TCP,UDP}_DESTROY, which any process may join
// in its own network namespace. A dump of the bound sockets every 100ms
// (the same sock_diag interface, with SK_MEMINFO) finds binds, receive
// queues and the kernel's per-socket drop counter; /proc/net/snmp's
// Udp NoPorts counts datagrams that found no socket.
//
// Parsing (diag.go) and the per-input state (tracker.go) are pure and
// tested from recorded netlink messages; diag_linux.go talks to the
// kernel; server.go serves the stream (JSON lines over one long-lived
// HTTP response) and /metrics, and client.go reads it (hala director).
//
// It imports inventory only, and no netlink library: sock_diag needs
// two request types and one reply type, written with x/sys/unix.
package agent
