// Package diagnose finds the bottleneck of a Logstash pipeline from its
// node stats: hala diagnose. It is pure: node stats in (one sample, or two
// taken Interval apart), a Report out; Sample is the only call that asks a
// node, through a Source that *logstash.Client satisfies.
//
// Per pipeline the report gives the events in, filtered and out (rates
// with two samples), the share of time inputs waited for a free worker
// (queue_push_duration_in_millis / duration_in_millis), each filter's and
// output's share of worker time, ranked, the flow metrics the version has,
// the pipeline's settings, queues and reload failures, and a verdict that
// names the bottleneck plugin and the settings that apply.
//
// The load that decides the verdict is, in order of preference, the
// pipeline's worker_utilization flow metric (8.13+), the utilization
// computed from two samples when pipeline.workers is reported, the
// worker_concurrency flow metric over the workers (8.5+), and else the
// inputs' waiting share, the method of counting by hand that works on
// every version. Logstash's own health thresholds apply: 95% and above is
// degraded, above 99.999% blocked.
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
