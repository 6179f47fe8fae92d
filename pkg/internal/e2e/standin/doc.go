// Package standin is a Logstash stand-in for hala's tests: it receives log
// messages the way the Logstash udp and tcp inputs do, appends each one as
// a JSON line (host, @timestamp, message, @version, like the seed's file
// output with codec json_lines) to a file, and serves the monitoring API's
// /_node/stats as Logstash 8.15 does (pipelines.<id>.plugins.inputs[] with
// the configured input ids and live events counters, and the pipeline's
// flow.worker_utilization).
//
// Like Logstash with pipeline.workers: 1, inputs push each message to a
// memory queue and one worker writes it; events.out counts written
// messages. A process delay makes the worker spend that long on each
// message first, so a node is really slower, and worker_utilization (busy
// time over the last 5 s) and duration_in_millis show it.
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
