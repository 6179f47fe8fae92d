// Package e2e is hala's end-to-end suite: the seed's two-node highly
// available Logstash, built from examples/two-node.toml, run on a real
// kernel inside the test VM with the real keepalived and the real
// "hala check", with numbered syslog messages counted through six failure
// scenarios.
//
// The package's non-test files hold the parts that need no kernel and are
// unit tested on loopback: the Sender (numbered messages at a fixed rate,
// each send time recorded), the counter (ReadReceived, Tally) that reads
// the stand-ins' JSON lines, and the result Table. The Logstash stand-in
// itself is package standin. The suite is e2e_linux_test.go
// (build tags linux and integration), run by scripts/e2e inside the VM.
//
// Nothing in the shipped hala binary imports this package. It imports
// pkg/inventory, pkg/render, its stand-in (standin) and
// pkg/internal/testutil/tcpstream (the TCP lines of rows C1–C4), and its
// tests pkg/internal/testutil as well.
package e2e
