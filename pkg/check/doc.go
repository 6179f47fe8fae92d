// Package check decides whether a Logstash input is healthy: keepalived's
// MISC_CHECK for one real server. Run takes a Source (the Logstash API
// client) and Options and returns a Verdict; it never exits and never logs,
// so `hala check`, a resident daemon or `hala diagnose` can share it.
//
// The basic check passes when the input id is listed in the node's
// pipeline stats (in the given pipeline, or any). Presence is what the
// API proves: an input that crashed stays listed, so stronger checks are
// opt-in:
//
//   - RequireRunning: the pipeline's state in /_health_report (8.16+) is
//     RUNNING. The answer is cached per node in StateDir and asked at most
//     once per RunningInterval, because the endpoint is expensive.
//   - Probe: for an input that listens on TCP, a connection to its port
//     succeeds. UDP inputs are skipped (nothing answers a UDP probe). It
//     dials Host, so it suits NAT forwarding only (with DR/TUN the input
//     binds the VIP).
//   - MaxIdle: the input's events.out has grown within the duration. The
//     last value is kept in a small state file in StateDir, written
//     atomically. A failure restarts the idle clock, so the removed node is
//     readmitted at the next run and judged again after another MaxIdle.
//
// State that cannot be read or written never fails a check: the verdict
// stays healthy and carries a Warning. ReadOnly runs (--explain) never
// write state.
//
// Report is hala check --explain's account of one run (what was asked,
// what came back, what was checked, the verdict), printed by WriteText, so
// any caller can show the same.
//
// With DynamicWeight the verdict carries a weight for keepalived's
// misc_dynamic (exit code 2+weight), derived by Weight from the pipeline's
// load (worker_utilization, else queue_backpressure, else the growth of
// the event counters between two runs), damped, never below MinLoadWeight.
// Its state between runs lives in a WeightStore: a file per pipeline in
// StateDir by default, MemoryWeights in the director.
//
// With DrainDir a backend that hala drain took out is down at once,
// without asking its API, or with DynamicWeight up at weight 0.
package check
