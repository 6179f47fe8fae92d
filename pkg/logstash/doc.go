// Package logstash is a client for the Logstash monitoring API (port 9600):
// node stats with pipelines, inputs, event counters and flow metrics, and
// the 8.16+ health report. It is the only hala package that speaks HTTP to
// Logstash (the director's /healthz probe is the director's own protocol).
//
// Every Logstash version from 5.x on is understood. 5.x keeps its single
// pipeline under .pipeline; 6.0 and later under .pipelines.<id>. Inputs are
// .plugins.inputs[] of a pipeline; an input that crashed stays listed, and
// start-up bodies have inputs without events.
//
// Bodies are parsed by streaming (a validating JSON reader over a 32 KiB
// buffer): only the fields hala uses are kept, so memory does not grow
// with the size of the body, and a body over the limit (DefaultMaxBody) is
// an error rather than an out-of-memory kill. ParseNodeStats (hala check)
// keeps inputs, events and flow; ParseNodeStatsPlugins (hala diagnose) also
// keeps filters, outputs, settings and queue sizes.
//
// A Client call is bounded by its context as a whole: dial, TLS handshake,
// response headers and body share one deadline, so a black-holed or
// drip-feeding server cannot hold the caller past it. Redirects to another
// host, port or scheme are refused, proxies are never used, TLS is verified unless Insecure
// is set, and credentials come from a file that only its owner can read.
package logstash
