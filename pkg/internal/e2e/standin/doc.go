// Package standin is a Logstash stand-in for hala's tests: it receives log
// messages the way the Logstash udp and tcp inputs do, appends each one as
// a JSON line (host, @timestamp, message, @version, like the seed's file
// output with codec json_lines) to a file, and serves the monitoring API's
// /_node/stats in the 7.x layout (pipelines.<id>.plugins.inputs[] with the
// configured input ids and live events counters).
//
// Faults are injected through Server methods, or through the control
// socket that cmd/logstash-standin serves (see Server.Command):
//
//   - stop or start one input while the API stays up: a stopped input's
//     port is closed and its id leaves the stats body, as when Logstash
//     runs without that input;
//   - stop or start the API while the inputs keep receiving;
//   - black-hole the API: connections are accepted and requests read, but
//     never answered;
//   - set the process delay;
//   - restart (SIGHUP to the process): it stops, executes itself again and
//     listens after a start delay, as a Logstash restart would.
//
// It is test code: the shipped hala binary never imports it. It imports no
// other hala package.
package standin
