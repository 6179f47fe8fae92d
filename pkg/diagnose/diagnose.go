package diagnose

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hala-lb/hala/pkg/logstash"
)

// Logstash's health thresholds for worker utilization, in percent
// (PipelineIndicator): at or above DegradedPercent a pipeline is degraded,
// above BlockedPercent blocked.
const (
	DegradedPercent = 95.0
	BlockedPercent  = 99.999
)

// State is a pipeline's condition.
type State int

const (
	// Healthy: the load is below DegradedPercent.
	Healthy State = iota
	// Idle: no events moved (a start-up body, or nothing in the interval).
	Idle
	// Degraded: the load is at or above DegradedPercent.
	Degraded
	// Blocked: the load is above BlockedPercent.
	Blocked
)

// String returns "healthy", "idle", "degraded" or "blocked".
func (s State) String() string {
	switch s {
	case Idle:
		return "idle"
	case Degraded:
		return "degraded"
	case Blocked:
		return "blocked"
	}
	return "healthy"
}

// MarshalText writes the state as String does.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func stateOf(percent float64) State {
	switch {
	case percent > BlockedPercent:
		return Blocked
	case percent >= DegradedPercent:
		return Degraded
	}
	return Healthy
}

// Source is where Sample gets node stats; *logstash.Client satisfies it.
type Source interface {
	NodeStatsPlugins(ctx context.Context, pipeline string) (*logstash.NodeStats, error)
}

// Samples are one or two node stats bodies of the same node.
type Samples struct {
	// First is nil with a single sample; Second is always set.
	First, Second *logstash.NodeStats
	// Elapsed is the time between the two answers (0 with one sample).
	Elapsed time.Duration
}

// Sample asks src once, or, with interval > 0, twice interval apart. The
// context bounds each request; the wait between them ends early when ctx
// does.
func Sample(ctx context.Context, src Source, pipeline string, interval time.Duration, timeout time.Duration) (Samples, error) {
	ask := func() (*logstash.NodeStats, time.Time, error) {
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		s, err := src.NodeStatsPlugins(c, pipeline)
		return s, time.Now(), err
	}
	first, t1, err := ask()
	if err != nil || interval <= 0 {
		return Samples{Second: first}, err
	}
	select {
	case <-ctx.Done():
		return Samples{}, ctx.Err()
	case <-time.After(interval):
	}
	second, t2, err := ask()
	if err != nil {
		return Samples{}, fmt.Errorf("second sample: %w", err)
	}
	return Samples{First: first, Second: second, Elapsed: t2.Sub(t1)}, nil
}

// Report is the diagnosis of one node.
type Report struct {
	Node    string `json:"node"`
	Host    string `json:"host"`
	Version string `json:"version"`
	// Address is the API's host:port, as the caller gives it.
	Address string `json:"address,omitempty"`
	// IntervalMillis is the time between the two samples; 0 means the
	// figures are lifetime totals.
	IntervalMillis int64       `json:"interval_millis"`
	Pipelines      []*Pipeline `json:"pipelines"`
	// Bottleneck is set when any pipeline is degraded or blocked.
	Bottleneck bool `json:"bottleneck"`
}

// ExitCode is hala diagnose's exit status: 0 healthy, 3 when a bottleneck
// was found.
func (r *Report) ExitCode() int {
	if r.Bottleneck {
		return 3
	}
	return 0
}

// Pipeline is the diagnosis of one pipeline.
type Pipeline struct {
	ID string `json:"id"`
	// Events are counters (lifetime) or deltas over the interval.
	Events Events `json:"events"`
	// Waiting is the percent of time inputs waited for a free worker:
	// queue_push_duration_in_millis / duration_in_millis; nil without
	// worker time.
	Waiting *float64 `json:"waiting_percent"`
	// WorkerMillis and QueuePushMillis are the durations Waiting divides.
	WorkerMillis    int64 `json:"worker_millis"`
	QueuePushMillis int64 `json:"queue_push_millis"`
	// Load is the figure that decides State, with where it came from.
	Load *Figure `json:"load"`
	// Flow metrics, nil when the version does not report them.
	WorkerUtilization *Figure `json:"worker_utilization"`
	QueueBackpressure *Figure `json:"queue_backpressure"`
	WorkerConcurrency *Figure `json:"worker_concurrency"`
	// Workers and BatchSize are 0 when not reported (before 8.17.1,
	// unless the node reports its defaults).
	Workers   int64 `json:"workers"`
	BatchSize int64 `json:"batch_size"`
	// Plugins are the filters and outputs, most worker time first.
	Plugins []Plugin `json:"plugins"`
	Queue   Queue    `json:"queue"`
	// DeadLetterBytes is the dead letter queue's size; nil without one.
	DeadLetterBytes *int64 `json:"dead_letter_queue_bytes"`
	ReloadFailures  int64  `json:"reload_failures"`
	LastReloadError string `json:"last_reload_error,omitempty"`
	// Notes are findings beside the verdict (queue filling, restarts).
	Notes []string `json:"notes"`

	State State `json:"state"`
	// Bottleneck is the plugin that takes the most worker time, when the
	// pipeline is degraded or blocked.
	Bottleneck *Plugin  `json:"bottleneck"`
	Verdict    string   `json:"verdict"`
	Knobs      []string `json:"knobs"`
}

// Figure is a value with where it came from: a flow window ("last_5_minutes"),
// "interval", "lifetime", ...
type Figure struct {
	Value  float64 `json:"value"`
	Source string  `json:"source"`
}

func (f *Figure) String() string { return fmt.Sprintf("%s (%s)", trim(f.Value), f.Source) }

// Events are a pipeline's counters, with rates over the interval.
type Events struct {
	In       int64    `json:"in"`
	Filtered int64    `json:"filtered"`
	Out      int64    `json:"out"`
	InRate   *float64 `json:"in_per_second,omitempty"`
	FiltRate *float64 `json:"filtered_per_second,omitempty"`
	OutRate  *float64 `json:"out_per_second,omitempty"`
}

// Plugin is one filter's or output's share of the work.
type Plugin struct {
	Kind string `json:"kind"` // filter or output
	ID   string `json:"id"`
	Name string `json:"name"`
	// Millis is the plugin's duration_in_millis (or its growth).
	Millis int64 `json:"millis"`
	// WorkerShare is Millis over the pipeline's worker time, PluginShare
	// over all filters' and outputs' time, both in percent.
	WorkerShare *float64 `json:"worker_share_percent"`
	PluginShare *float64 `json:"plugin_share_percent"`
	// MillisPerEvent is Millis over the events the plugin took in.
	MillisPerEvent *float64 `json:"millis_per_event"`
	// Flow metrics (8.7+).
	WorkerUtilization    *Figure `json:"worker_utilization"`
	WorkerMillisPerEvent *Figure `json:"worker_millis_per_event"`
}

// String is `output "firehose-1" (firehose)`.
func (p Plugin) String() string {
	if p.Name == "" {
		return fmt.Sprintf("%s %q", p.Kind, p.ID)
	}
	return fmt.Sprintf("%s %q (%s)", p.Kind, p.ID, p.Name)
}

// Queue is the pipeline's queue.
type Queue struct {
	Type     string `json:"type"`
	Events   int64  `json:"events"`
	Bytes    int64  `json:"bytes"`
	MaxBytes int64  `json:"max_bytes"`
	// FillPercent is Bytes over MaxBytes (persisted queues).
	FillPercent *float64 `json:"fill_percent"`
	// GrowthBytes is bytes per second: the queue_persisted_growth_bytes
	// flow metric, or the change between samples.
	GrowthBytes *Figure `json:"growth_bytes_per_second"`
}

// ErrNoPipeline means the asked pipeline is not in the stats.
var ErrNoPipeline = errors.New("pipeline not found")

// Analyze diagnoses the samples: every pipeline, or only pipeline when it
// is not "". It never fails on missing sections, start-up bodies or
// non-finite flow values; only an unknown pipeline is an error.
func Analyze(s Samples, pipeline string) (*Report, error) {
	cur := s.Second
	if cur == nil {
		return nil, errors.New("no node stats")
	}
	r := &Report{Node: cur.Name, Host: cur.Host, Version: cur.Version, Pipelines: []*Pipeline{}}
	interval := s.First != nil && s.Elapsed > 0
	if interval {
		r.IntervalMillis = s.Elapsed.Milliseconds()
	}
	for i := range cur.Pipelines {
		p := &cur.Pipelines[i]
		if pipeline != "" && p.ID != pipeline {
			continue
		}
		var prev *logstash.Pipeline
		if interval {
			prev = s.First.Pipeline(p.ID)
		}
		pr := analyzePipeline(cur, prev, p, s.Elapsed)
		r.Pipelines = append(r.Pipelines, pr)
		r.Bottleneck = r.Bottleneck || pr.State >= Degraded
	}
	if pipeline != "" && len(r.Pipelines) == 0 {
		ids := make([]string, len(cur.Pipelines))
		for i, p := range cur.Pipelines {
			ids[i] = strconv.Quote(p.ID)
		}
		return nil, fmt.Errorf("%w: %q (pipelines there: %s)", ErrNoPipeline, pipeline, strings.Join(ids, ", "))
	}
	return r, nil
}

func analyzePipeline(node *logstash.NodeStats, prev, p *logstash.Pipeline, elapsed time.Duration) *Pipeline {
	pr := &Pipeline{ID: p.ID, Notes: []string{}, Knobs: []string{}, Plugins: []Plugin{}}
	// A restart between the samples resets every counter: fall back to
	// the second sample's totals.
	if prev != nil && (prev.EphemeralID != p.EphemeralID || restarted(prev.Events, p.Events)) {
		pr.Notes = append(pr.Notes, "the pipeline restarted between the samples: lifetime totals of the second sample")
		prev = nil
	}
	secs := 0.0
	if prev != nil {
		secs = elapsed.Seconds()
	}
	ev, base := events(p.Events), events(nil)
	if prev != nil {
		base = events(prev.Events)
	}
	pr.Events = Events{In: ev.In - base.In, Filtered: ev.Filtered - base.Filtered, Out: ev.Out - base.Out}
	if secs > 0 {
		pr.Events.InRate = ptr(float64(pr.Events.In) / secs)
		pr.Events.FiltRate = ptr(float64(pr.Events.Filtered) / secs)
		pr.Events.OutRate = ptr(float64(pr.Events.Out) / secs)
	}
	pr.WorkerMillis = ev.DurationMillis - base.DurationMillis
	pr.QueuePushMillis = ev.QueuePushDurationMillis - base.QueuePushDurationMillis
	if pr.WorkerMillis > 0 && ev.QueuePushReported {
		pr.Waiting = ptr(100 * float64(pr.QueuePushMillis) / float64(pr.WorkerMillis))
	}

	windows := lifetimeWindows
	if secs > 0 {
		windows = intervalWindows
	}
	pr.WorkerUtilization = flow(p.Flow, "worker_utilization", windows)
	pr.QueueBackpressure = flow(p.Flow, "queue_backpressure", windows)
	pr.WorkerConcurrency = flow(p.Flow, "worker_concurrency", windows)
	pr.Workers, pr.BatchSize = p.Settings.Workers, p.Settings.BatchSize
	if pr.Workers == 0 {
		pr.Workers, pr.BatchSize = node.Settings.Workers, node.Settings.BatchSize
	}

	pr.Plugins = plugins(prev, p, pr.WorkerMillis, windows)
	queue(pr, prev, p, secs, windows)
	if d := p.DeadLetterQueue; d != nil {
		pr.DeadLetterBytes = ptr(d.SizeBytes)
		if d.DroppedEvents > 0 {
			pr.Notes = append(pr.Notes, fmt.Sprintf("the dead letter queue dropped %d events (it is full)", d.DroppedEvents))
		}
	}
	pr.ReloadFailures, pr.LastReloadError = p.Reloads.Failures, p.Reloads.LastError

	pr.Load = load(pr, secs)
	decide(pr)
	return pr
}

// restarted reports counters that went backwards.
func restarted(a, b *logstash.Events) bool {
	x, y := events(a), events(b)
	return y.In < x.In || y.Out < x.Out || y.DurationMillis < x.DurationMillis
}

func events(e *logstash.Events) logstash.Events {
	if e == nil {
		return logstash.Events{}
	}
	return *e
}

func ptr[T any](v T) *T { return &v }

// Flow windows in order of preference. They differ on purpose from
// check.PipelineLoad (current first: the weight follows a change within
// seconds): one sample is judged as Logstash's health report judges it,
// over 5 minutes, so a diagnosis names a lasting bottleneck, not a burst;
// over an interval the ~10s current window is the one that matches it.
var (
	lifetimeWindows = []string{"last_5_minutes", "last_1_minute", "current", "last_15_minutes", "lifetime"}
	intervalWindows = []string{"current", "last_1_minute", "last_5_minutes", "lifetime"}
)

// flow returns the first finite window of a flow metric, nil when none.
func flow(f logstash.Flow, name string, windows []string) *Figure {
	m := f[name]
	for _, w := range windows {
		if v, ok := m[w]; ok && !math.IsInf(v, 0) && !math.IsNaN(v) {
			return &Figure{Value: v, Source: name + " " + w}
		}
	}
	return nil
}

func plugins(prev, p *logstash.Pipeline, workerMillis int64, windows []string) []Plugin {
	type kind struct {
		name      string
		cur, prev []logstash.Plugin
	}
	kinds := []kind{{"filter", p.Filters, nil}, {"output", p.Outputs, nil}}
	if prev != nil {
		kinds[0].prev, kinds[1].prev = prev.Filters, prev.Outputs
	}
	var out []Plugin
	var total int64
	for _, k := range kinds {
		for _, pl := range k.cur {
			ev := events(pl.Events)
			for _, old := range k.prev {
				if old.ID == pl.ID {
					o := events(old.Events)
					if o.DurationMillis <= ev.DurationMillis && o.In <= ev.In {
						ev.DurationMillis -= o.DurationMillis
						ev.In -= o.In
					}
					break
				}
			}
			x := Plugin{Kind: k.name, ID: pl.ID, Name: pl.Name, Millis: ev.DurationMillis,
				WorkerUtilization:    flow(pl.Flow, "worker_utilization", windows),
				WorkerMillisPerEvent: flow(pl.Flow, "worker_millis_per_event", windows)}
			if ev.In > 0 {
				x.MillisPerEvent = ptr(float64(ev.DurationMillis) / float64(ev.In))
			}
			if workerMillis > 0 {
				x.WorkerShare = ptr(100 * float64(ev.DurationMillis) / float64(workerMillis))
			}
			total += ev.DurationMillis
			out = append(out, x)
		}
	}
	for i := range out {
		if total > 0 {
			out[i].PluginShare = ptr(100 * float64(out[i].Millis) / float64(total))
		}
	}
	slices.SortStableFunc(out, func(a, b Plugin) int {
		switch {
		case a.Millis > b.Millis:
			return -1
		case a.Millis < b.Millis:
			return 1
		}
		return 0
	})
	if out == nil {
		out = []Plugin{}
	}
	return out
}

func queue(pr *Pipeline, prev, p *logstash.Pipeline, secs float64, windows []string) {
	q := p.Queue
	pr.Queue = Queue{Type: q.Type, Events: q.EventsCount, Bytes: q.SizeBytes, MaxBytes: q.MaxSizeBytes}
	if q.Type != "persisted" {
		return
	}
	if q.MaxSizeBytes > 0 {
		fill := 100 * float64(q.SizeBytes) / float64(q.MaxSizeBytes)
		pr.Queue.FillPercent = &fill
		if fill >= 90 {
			pr.Notes = append(pr.Notes, fmt.Sprintf("the persisted queue is %.1f%% full: at queue.max_bytes inputs block", fill))
		}
	}
	if secs > 0 && prev != nil && prev.Queue.Type == "persisted" {
		pr.Queue.GrowthBytes = &Figure{Value: float64(q.SizeBytes-prev.Queue.SizeBytes) / secs, Source: "interval"}
	} else {
		pr.Queue.GrowthBytes = flow(p.Flow, "queue_persisted_growth_bytes", windows)
	}
	// Bytes grow with page overhead too; unread events growing is what
	// means the workers fall behind.
	growth := flow(p.Flow, "queue_persisted_growth_events", windows)
	if secs > 0 && prev != nil && prev.Queue.Type == "persisted" {
		growth = &Figure{Value: float64(q.EventsCount-prev.Queue.EventsCount) / secs, Source: "interval"}
	}
	if growth != nil && growth.Value > 0 {
		pr.Notes = append(pr.Notes, fmt.Sprintf("the persisted queue gains %s events/s: workers fall behind the inputs", trim(growth.Value)))
	}
}

// load picks the figure that decides the state, in percent.
func load(pr *Pipeline, secs float64) *Figure {
	if f := pr.WorkerUtilization; f != nil {
		return f
	}
	if secs > 0 && pr.Workers > 0 && pr.WorkerMillis > 0 {
		return &Figure{Value: 100 * float64(pr.WorkerMillis) / (secs * 1000 * float64(pr.Workers)), Source: "worker time over the interval"}
	}
	if f := pr.WorkerConcurrency; f != nil && pr.Workers > 0 {
		return &Figure{Value: 100 * f.Value / float64(pr.Workers), Source: f.Source + " / workers"}
	}
	if pr.Waiting != nil {
		return &Figure{Value: *pr.Waiting, Source: "inputs' waiting share"}
	}
	return nil
}

// decide sets State, Bottleneck, Verdict and Knobs.
func decide(pr *Pipeline) {
	waited := ""
	if pr.Waiting != nil {
		waited = fmt.Sprintf("inputs waited for a free worker %s of the time", percent(*pr.Waiting))
	}
	if pr.Events.In == 0 && pr.Events.Out == 0 && pr.WorkerMillis == 0 {
		pr.State = Idle
		pr.Verdict = "no bottleneck: no events moved (starting, idle, or a stall so complete that no batch finished)"
		return
	}
	if pr.Load == nil {
		pr.Verdict = "no bottleneck found: the node reports no load figure (no flow metrics, no queue push time)"
		return
	}
	pr.State = stateOf(pr.Load.Value)
	if pr.State < Degraded {
		pr.Verdict = fmt.Sprintf("no bottleneck: load %s (%s)", percent(pr.Load.Value), pr.Load.Source)
		if waited != "" {
			pr.Verdict += "; " + waited
		}
		return
	}
	var how string
	if pr.State == Degraded {
		how = fmt.Sprintf("degraded: load %s (%s; degraded from %s%%)", percent(pr.Load.Value), pr.Load.Source, trim(DegradedPercent))
	} else {
		how = fmt.Sprintf("blocked: load %s (%s; blocked above %s%%)", percent(pr.Load.Value), pr.Load.Source, trim(BlockedPercent))
	}
	if waited != "" && pr.Load.Source != "inputs' waiting share" {
		how += "; " + waited
	}
	workers := "pipeline.workers"
	if pr.Workers > 0 {
		workers += fmt.Sprintf(" (now %d)", pr.Workers)
	}
	batch := "pipeline.batch.size"
	if pr.BatchSize > 0 {
		batch += fmt.Sprintf(" (now %d)", pr.BatchSize)
	}
	more := "more Logstash nodes behind the VIP: add [[logstash]] hosts to the service's backends"
	if len(pr.Plugins) == 0 || pr.Plugins[0].Millis == 0 {
		pr.Verdict = fmt.Sprintf("bottleneck: the workers (%s); the body names no filter or output time", how)
		pr.Knobs = []string{workers + ": more workers, if CPU is free", batch, more}
		return
	}
	b := pr.Plugins[0]
	pr.Bottleneck = &b
	share := ""
	if b.PluginShare != nil {
		share = fmt.Sprintf(" takes %s of the filters' and outputs' time", percent(*b.PluginShare))
	}
	pr.Verdict = fmt.Sprintf("bottleneck: %s%s; %s", b, share, how)
	if b.Kind == "output" {
		pr.Knobs = []string{
			fmt.Sprintf("the output's own parallelism: %s's workers or connection pool settings, or several outputs each taking part of the events", b.Name),
			batch + ": bigger batches mean fewer, larger requests from an output that sends in bulk",
			workers + ": more batches in flight, unless the output runs single-threaded",
			more,
		}
		return
	}
	pr.Knobs = []string{
		workers + ": filters run in every worker, so more workers (with free CPU) run more of this filter at once",
		fmt.Sprintf("the filter's own cost: %s's configuration (patterns, lookups, scripts) per event", b.Name),
		batch,
		more,
	}
}

// percent prints 99.82%: two decimals, no trailing zeros beyond them.
func percent(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + "%" }

// trim prints a number with at most 3 decimals, without trailing zeros.
func trim(v float64) string {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func formatBytes(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1<<30:
		return fmt.Sprintf("%.1f GiB", v/(1<<30))
	case a >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case a >= 1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%s B", trim(v))
}
