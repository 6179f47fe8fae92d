// Package diagnose finds the bottleneck of a Logstash pipeline from its
// node stats: hala diagnose. It is pure: node stats in (one sample, or two
// taken Interval apart, plus /_node/pipelines when the stats lack a
// pipeline's workers), a Report out; Sample is the only call that asks a
// node, through a Source that *logstash.Client satisfies.
//
// Per pipeline the report gives the events in, filtered and out (rates
// with two samples), the share of time inputs waited for a free worker
// (queue_push_duration_in_millis / duration_in_millis), each filter's and
// output's share of worker time, ranked, the flow metrics the version has,
// the pipeline's settings, queues and reload failures, and a verdict that
// names the bottleneck plugin and the settings that apply. A figure the
// body does not report is unknown, never 0.
//
// # Verdict ladder
//
// The first rung that applies decides:
//
//  1. Stuck (blocked, exit 3): no events moved and no batch finished, yet
//     the flow metrics say the workers are saturated (worker_utilization,
//     the pipeline's or the sum of its plugins', at or above
//     DegradedPercent) or the inputs blocked (queue_backpressure at or
//     above SaturatedBackpressure). Names the plugin with the highest
//     worker_utilization.
//  2. Idle (exit 0): no events moved and nothing says the workers are busy.
//  3. Load: the first figure the body has decides, by Logstash's own health
//     thresholds (95% and above degraded, above 99.999% blocked; exit 3):
//     the pipeline's worker_utilization (8.13+); the sum of its filters'
//     and outputs' worker_utilization over one window (8.7+); worker time
//     over the interval divided by the pipeline's workers; the
//     worker_concurrency flow metric over those workers (8.5+); the
//     inputs' waiting share. The workers must be the pipeline's own (node
//     stats 8.17.1+, else /_node/pipelines): the node's default
//     pipeline.workers decides nothing. A persisted queue's push time
//     includes the disk write, so there the waiting share decides nothing.
//  4. No load figure (exit 0): the verdict says which figures are missing.
//
// A degraded or blocked pipeline names the plugin with the most worker
// time (the highest worker_utilization when a flow metric decided). For an
// elasticsearch output the hints start with its own error counters and
// rejections on the Elasticsearch side.
//
// This ladder is diagnose's own, not check.PipelineLoad (the load the
// dynamic weight, hala status and hala check --explain use): a diagnosis
// explains a bottleneck, so from one sample it prefers the last_5_minutes
// window, the one Logstash's health report judges, and it has figures
// (two samples' worker time, worker_concurrency) that a single MISC_CHECK
// run does not.
//
// diagnose imports pkg/logstash only.
package diagnose
