package logstash

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Layout says where a node stats body keeps its pipelines.
type Layout int

const (
	// LayoutPipelines is 6.0 and later: .pipelines.<id>.
	LayoutPipelines Layout = iota
	// LayoutSinglePipeline is 5.x: one .pipeline object (id "main").
	LayoutSinglePipeline
)

// String names the layout as the JSON path it reads.
func (l Layout) String() string {
	if l == LayoutSinglePipeline {
		return ".pipeline (5.x)"
	}
	return ".pipelines.<id> (6.0+)"
}

// NodeStats is the part of a /_node/stats body that hala uses: the node's
// identity and every pipeline with its inputs, events and flow metrics.
// Fields absent from the body are zero.
type NodeStats struct {
	Host        string
	Version     string
	HTTPAddress string
	ID          string
	Name        string
	EphemeralID string
	// Status is the node's status ("green"...; hard-coded before 8.16, absent on 5.x).
	Status string
	Layout Layout
	// Settings are the node's pipeline defaults (6.0+ top-level .pipeline;
	// ParseNodeStatsPlugins only).
	Settings Settings
	// Pipelines in body order.
	Pipelines []Pipeline
}

// Pipeline returns the pipeline with the given id, or nil.
func (s *NodeStats) Pipeline(id string) *Pipeline {
	for i := range s.Pipelines {
		if s.Pipelines[i].ID == id {
			return &s.Pipelines[i]
		}
	}
	return nil
}

// FindInput returns the first pipeline (in body order) that has an input
// with the given id, and that input; nil, nil when none has.
func (s *NodeStats) FindInput(id string) (*Pipeline, *Input) {
	for i := range s.Pipelines {
		if in := s.Pipelines[i].Input(id); in != nil {
			return &s.Pipelines[i], in
		}
	}
	return nil, nil
}

// VersionAtLeast reports whether the node's version is major.minor or later.
// An unknown or unparsable version reports false.
func (s *NodeStats) VersionAtLeast(major, minor int) bool {
	ma, mi, ok := ParseVersion(s.Version)
	if !ok {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

// ParseVersion reads the major and minor numbers of a Logstash version such
// as "8.15.0" or "6.0.0-alpha3".
func ParseVersion(v string) (major, minor int, ok bool) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return ma, mi, true
}

// Pipeline is one pipeline's stats.
type Pipeline struct {
	ID string
	// Events are the pipeline's event counters; nil when the body has none
	// (a pipeline that is still starting).
	Events *Events
	// Inputs are .plugins.inputs[] in body order. A crashed input stays
	// listed: presence alone does not prove it is receiving.
	Inputs []Input
	// Flow holds flow metrics (8.5+) by name: input_throughput,
	// queue_backpressure, worker_utilization, ...
	Flow  Flow
	Queue Queue
	// Reloads counts configuration reloads.
	Reloads Reloads
	// Filters and Outputs are .plugins.filters[] and .plugins.outputs[] in
	// body order (ParseNodeStatsPlugins only).
	Filters []Plugin
	Outputs []Plugin
	// Settings are the pipeline's own workers and batch size (8.17.1+;
	// ParseNodeStatsPlugins only).
	Settings Settings
	// DeadLetterQueue is nil when the body has none (ParseNodeStatsPlugins only).
	DeadLetterQueue *DeadLetterQueue
	// EphemeralID changes every time the pipeline restarts (7.x+).
	EphemeralID string
	Hash        string

	statsShaped bool // parse-time only: has events or plugins (5.x detection)
}

// Input returns the input with the given id, or nil.
func (p *Pipeline) Input(id string) *Input {
	for i := range p.Inputs {
		if p.Inputs[i].ID == id {
			return &p.Inputs[i]
		}
	}
	return nil
}

// InputIDs lists the pipeline's input ids in body order.
func (p *Pipeline) InputIDs() []string {
	ids := make([]string, len(p.Inputs))
	for i, in := range p.Inputs {
		ids[i] = in.ID
	}
	return ids
}

// String is `pipeline "main"`.
func (p *Pipeline) String() string { return fmt.Sprintf("pipeline %q", p.ID) }

// Events are event counters. Durations are cumulative milliseconds.
type Events struct {
	In                      int64
	Filtered                int64
	Out                     int64
	DurationMillis          int64
	QueuePushDurationMillis int64
	// QueuePushReported is false when the body has no
	// queue_push_duration_in_millis (5.3 and earlier, start-up bodies).
	QueuePushReported bool
}

// Input is one input plugin's entry in .plugins.inputs[].
type Input struct {
	ID string
	// Name is the plugin type (udp, tcp, beats, ...).
	Name string
	// Events is nil until the input has pushed events (start-up bodies).
	Events *Events
	// Flow holds the input's flow metrics (8.7+: throughput).
	Flow Flow
}

// String is `input "udp-5514" (udp)`.
func (in *Input) String() string {
	if in.Name == "" {
		return fmt.Sprintf("input %q", in.ID)
	}
	return fmt.Sprintf("input %q (%s)", in.ID, in.Name)
}

// Flow maps a flow metric name to its windows.
type Flow map[string]FlowMetric

// FlowMetric maps a window (current, lifetime, last_1_minute, ...) to its
// value. "Infinity" strings become +Inf; null windows are absent.
type FlowMetric map[string]float64

// Recent returns the most recent finite value, preferring the windows in
// the order current, last_1_minute, last_5_minutes, lifetime: the current
// window (about 10s) follows a change within seconds. check.PipelineLoad,
// and through it the weight, hala status and hala check --explain, read
// flow metrics through Recent.
func (m FlowMetric) Recent() (value float64, window string, ok bool) {
	for _, w := range []string{"current", "last_1_minute", "last_5_minutes", "lifetime"} {
		if v, ok := m[w]; ok && !math.IsInf(v, 0) && !math.IsNaN(v) {
			return v, w, true
		}
	}
	return 0, "", false
}

// Queue describes the pipeline's queue.
type Queue struct {
	// Type is "memory" or "persisted" ("" when absent).
	Type        string
	EventsCount int64
	// SizeBytes and MaxSizeBytes are the persisted queue's size on disk and
	// its limit, queue.max_bytes (ParseNodeStatsPlugins only).
	SizeBytes    int64
	MaxSizeBytes int64
	// SizeReported is false when the body has no queue_size_in_bytes (5.x
	// persisted queues report only their limit).
	SizeReported bool
}

// Plugin is one filter or output in .plugins.filters[] or .plugins.outputs[].
type Plugin struct {
	// ID is the plugin's id (set with id => "...", else generated).
	ID string
	// Name is the plugin type (date, elasticsearch, ...).
	Name string
	// Events is nil until the plugin has seen events.
	Events *Events
	// Flow holds the plugin's flow metrics (8.7+: worker_utilization,
	// worker_millis_per_event).
	Flow Flow
	// Counters are an output's own counters by dotted path, as the
	// elasticsearch output reports them: "bulk_requests.successes",
	// "bulk_requests.with_errors", "bulk_requests.failures",
	// "bulk_requests.responses.<status>", "documents.successes",
	// "documents.non_retryable_failures", "documents.dlq_routed". nil when
	// the plugin reports none.
	Counters map[string]int64
}

// Settings are a pipeline's pipeline.workers, pipeline.batch.size and
// pipeline.batch.delay; zero when not reported.
type Settings struct {
	Workers          int64
	BatchSize        int64
	BatchDelayMillis int64
}

// DeadLetterQueue is a pipeline's dead letter queue.
type DeadLetterQueue struct {
	SizeBytes     int64
	MaxSizeBytes  int64
	DroppedEvents int64
}

// Reloads counts configuration reloads of a pipeline.
type Reloads struct {
	Successes int64
	Failures  int64
	// LastError is the last failed reload's message (ParseNodeStatsPlugins only).
	LastError string
}
