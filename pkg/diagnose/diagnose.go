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

// SettingsSource is a Source that also answers /_node/pipelines, each
// pipeline's own settings; *logstash.Client is one.
type SettingsSource interface {
	NodePipelines(ctx context.Context) (map[string]logstash.Settings, error)
}

// Samples are one or two node stats bodies of the same node.
type Samples struct {
	// First is nil with a single sample; Second is always set.
	First, Second *logstash.NodeStats
	// Elapsed is the time between the two answers (0 with one sample).
	Elapsed time.Duration
	// Settings are the pipelines' own settings from /_node/pipelines, asked
	// when the stats lack them (before 8.17.1); nil when not asked.
	Settings map[string]logstash.Settings
	// SettingsErr is why /_node/pipelines did not answer.
	SettingsErr error
}

// Sample asks src once, or, with interval > 0, twice interval apart. The
// context bounds each request; the wait between them ends early when ctx
// does. When the stats lack a pipeline's workers and src is a
// SettingsSource, it also asks /_node/pipelines.
func Sample(ctx context.Context, src Source, pipeline string, interval time.Duration, timeout time.Duration) (Samples, error) {
	s, err := sample(ctx, src, pipeline, interval, timeout)
	if err != nil || !lacksWorkers(s.Second) {
		return s, err
	}
	if ss, ok := src.(SettingsSource); ok {
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		s.Settings, s.SettingsErr = ss.NodePipelines(c)
	}
	return s, nil
}

func lacksWorkers(s *logstash.NodeStats) bool {
	for _, p := range s.Pipelines {
		if p.Settings.Workers == 0 {
			return true
		}
	}
	return false
}

func sample(ctx context.Context, src Source, pipeline string, interval time.Duration, timeout time.Duration) (Samples, error) {
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
	// worker time or queue push time (WaitingUnknown says which).
	Waiting *float64 `json:"waiting_percent"`
	// WaitingUnknown says why Waiting is nil.
	WaitingUnknown string `json:"waiting_unknown,omitempty"`
	// WorkerMillis and QueuePushMillis are the durations Waiting divides.
	// With a persisted queue, queue push time includes writing the event
	// to disk: Waiting is then not only waiting for a worker.
	WorkerMillis    int64 `json:"worker_millis"`
	QueuePushMillis int64 `json:"queue_push_millis"`
	// Load is the figure that decides State, with where it came from.
	Load *Figure `json:"load"`
	// Flow metrics, nil when the version does not report them.
	WorkerUtilization *Figure `json:"worker_utilization"`
	QueueBackpressure *Figure `json:"queue_backpressure"`
	WorkerConcurrency *Figure `json:"worker_concurrency"`
	// Workers and BatchSize are 0 when not reported.
	Workers   int64 `json:"workers"`
	BatchSize int64 `json:"batch_size"`
	// SettingsFrom says where Workers and BatchSize come from: "pipeline
	// stats" (8.17.1+), "/_node/pipelines", or "node default", the node's
	// pipeline.workers, which this pipeline may override: it decides no
	// load figure.
	SettingsFrom string `json:"settings_from,omitempty"`
	// PluginUtilization is the sum of the filters' and outputs'
	// worker_utilization flow metrics (8.7+) over one window: the
	// pipeline's worker_utilization where that is not reported (8.7-8.12).
	PluginUtilization *Figure `json:"plugin_worker_utilization"`
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
	// Stuck is set when no events moved while the flow metrics say the
	// workers are saturated or the inputs blocked: State is Blocked.
	Stuck bool `json:"stuck"`
	// Bottleneck is the plugin that takes the most worker time (the
	// highest worker_utilization when stuck), when the pipeline is
	// degraded or blocked.
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
	// Counters are the output's own counters (the elasticsearch output's
	// bulk_requests and documents), grown over the interval or lifetime.
	Counters map[string]int64 `json:"counters,omitempty"`
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
	Type   string `json:"type"`
	Events int64  `json:"events"`
	// Bytes is the persisted queue's size on disk; nil when not reported
	// (5.x reports only the limit).
	Bytes    *int64 `json:"bytes"`
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
		pr := analyzePipeline(cur, prev, p, s)
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

func analyzePipeline(node *logstash.NodeStats, prev, p *logstash.Pipeline, s Samples) *Pipeline {
	elapsed := s.Elapsed
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
	switch {
	case !ev.QueuePushReported && pr.WorkerMillis == 0:
		pr.WaitingUnknown = "no worker time and no queue push time reported"
	case !ev.QueuePushReported:
		pr.WaitingUnknown = "this version reports no queue_push_duration_in_millis"
	case pr.WorkerMillis == 0:
		pr.WaitingUnknown = "no worker time: no batch finished"
	default:
		pr.Waiting = ptr(100 * float64(pr.QueuePushMillis) / float64(pr.WorkerMillis))
	}

	windows := lifetimeWindows
	if secs > 0 {
		windows = intervalWindows
	}
	pr.WorkerUtilization = flow(p.Flow, "worker_utilization", windows)
	pr.QueueBackpressure = flow(p.Flow, "queue_backpressure", windows)
	pr.WorkerConcurrency = flow(p.Flow, "worker_concurrency", windows)
	if pr.WorkerUtilization == nil {
		pr.PluginUtilization = pluginUtilization(p, windows)
	}
	settings(pr, node, p, s)

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

// Where settings come from, in order of preference.
const (
	fromStats     = "pipeline stats"
	fromPipelines = "/_node/pipelines"
	fromNode      = "node default"
)

// settings sets the pipeline's workers and batch size from the stats
// (8.17.1+), /_node/pipelines, or the node's defaults.
func settings(pr *Pipeline, node *logstash.NodeStats, p *logstash.Pipeline, s Samples) {
	if st := p.Settings; st.Workers > 0 {
		pr.Workers, pr.BatchSize, pr.SettingsFrom = st.Workers, st.BatchSize, fromStats
		return
	}
	if st, ok := s.Settings[p.ID]; ok && st.Workers > 0 {
		pr.Workers, pr.BatchSize, pr.SettingsFrom = st.Workers, st.BatchSize, fromPipelines
		return
	}
	if s.SettingsErr != nil && !errors.Is(s.SettingsErr, logstash.ErrNoNodePipelines) {
		pr.Notes = append(pr.Notes, fmt.Sprintf("the pipeline's own pipeline.workers is unknown: /_node/pipelines: %v", s.SettingsErr))
	}
	if st := node.Settings; st.Workers > 0 {
		pr.Workers, pr.BatchSize, pr.SettingsFrom = st.Workers, st.BatchSize, fromNode
	}
}

// pluginUtilization sums the filters' and outputs' worker_utilization in
// the first window every reporting plugin has; nil when none reports it.
func pluginUtilization(p *logstash.Pipeline, windows []string) *Figure {
	var all []logstash.Plugin
	all = append(append(all, p.Filters...), p.Outputs...)
	for _, w := range windows {
		sum, n, ok := 0.0, 0, true
		for _, pl := range all {
			m, has := pl.Flow["worker_utilization"]
			if !has {
				continue
			}
			v, found := m[w]
			if !found || math.IsInf(v, 0) || math.IsNaN(v) {
				ok = false
				break
			}
			sum += v
			n++
		}
		if ok && n > 0 {
			return &Figure{Value: sum, Source: "filters' and outputs' worker_utilization " + w}
		}
	}
	return nil
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
			counters := pl.Counters
			for _, old := range k.prev {
				if old.ID == pl.ID {
					o := events(old.Events)
					if o.DurationMillis <= ev.DurationMillis && o.In <= ev.In {
						ev.DurationMillis -= o.DurationMillis
						ev.In -= o.In
					}
					counters = grown(old.Counters, pl.Counters)
					break
				}
			}
			x := Plugin{Kind: k.name, ID: pl.ID, Name: pl.Name, Millis: ev.DurationMillis, Counters: counters,
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

// grown is each counter's growth from old to cur; a counter that went
// backwards (a restarted plugin) counts from 0.
func grown(old, cur map[string]int64) map[string]int64 {
	if cur == nil {
		return nil
	}
	out := make(map[string]int64, len(cur))
	for k, v := range cur {
		if o := old[k]; o <= v {
			v -= o
		}
		out[k] = v
	}
	return out
}

func queue(pr *Pipeline, prev, p *logstash.Pipeline, secs float64, windows []string) {
	q := p.Queue
	pr.Queue = Queue{Type: q.Type, Events: q.EventsCount, MaxBytes: q.MaxSizeBytes}
	if q.SizeReported {
		pr.Queue.Bytes = ptr(q.SizeBytes)
	}
	if q.Type != "persisted" {
		return
	}
	if q.MaxSizeBytes > 0 && q.SizeReported {
		fill := 100 * float64(q.SizeBytes) / float64(q.MaxSizeBytes)
		pr.Queue.FillPercent = &fill
		if fill >= 90 {
			pr.Notes = append(pr.Notes, fmt.Sprintf("the persisted queue is %.1f%% full: at queue.max_bytes inputs block", fill))
		}
	}
	if secs > 0 && prev != nil && prev.Queue.Type == "persisted" && q.SizeReported && prev.Queue.SizeReported {
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
	if f := pr.PluginUtilization; f != nil {
		return f
	}
	if pr.SettingsFrom == fromNode {
		// The node's default says nothing of this pipeline's workers.
		return waiting(pr)
	}
	if secs > 0 && pr.Workers > 0 && pr.WorkerMillis > 0 {
		return &Figure{Value: 100 * float64(pr.WorkerMillis) / (secs * 1000 * float64(pr.Workers)), Source: "worker time over the interval"}
	}
	if f := pr.WorkerConcurrency; f != nil && pr.Workers > 0 {
		return &Figure{Value: 100 * f.Value / float64(pr.Workers), Source: f.Source + " / workers"}
	}
	return waiting(pr)
}

// waiting is the inputs' waiting share as a load figure. A persisted
// queue's push time includes the disk write, so there it decides nothing.
func waiting(pr *Pipeline) *Figure {
	if pr.Waiting != nil && pr.Queue.Type != "persisted" {
		return &Figure{Value: *pr.Waiting, Source: "inputs' waiting share"}
	}
	return nil
}

// decide sets State, Bottleneck, Verdict and Knobs.
func decide(pr *Pipeline) {
	waited := ""
	if pr.Waiting != nil {
		waited = pr.waitedText()
	}
	if pr.Events.In == 0 && pr.Events.Out == 0 && pr.WorkerMillis == 0 {
		if busy := saturation(pr); busy != "" {
			stuck(pr, busy)
			return
		}
		pr.State = Idle
		pr.Verdict = "no bottleneck: no events moved (starting or idle; the flow metrics show no saturation)"
		if pr.WorkerUtilization == nil && pr.PluginUtilization == nil && pr.QueueBackpressure == nil {
			pr.Verdict = "no bottleneck: no events moved (starting, idle, or a stall so complete that no batch finished: this node reports no flow metrics to tell)"
		}
		return
	}
	if pr.Load == nil {
		pr.Verdict = "no bottleneck found: no load figure (" + pr.noLoad() + ")"
		if waited != "" {
			pr.Verdict += "; " + waited
		}
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
	now := "now"
	if pr.SettingsFrom == fromNode {
		now = "node default"
	}
	if pr.Workers > 0 {
		workers += fmt.Sprintf(" (%s %d)", now, pr.Workers)
	}
	batch := "pipeline.batch.size"
	if pr.BatchSize > 0 {
		batch += fmt.Sprintf(" (%s %d)", now, pr.BatchSize)
	}
	more := "more Logstash nodes behind the VIP: add [[logstash]] hosts to the service's backends"
	if len(pr.Plugins) == 0 || pr.Plugins[0].Millis == 0 {
		pr.Verdict = fmt.Sprintf("bottleneck: the workers (%s); the body names no filter or output time", how)
		pr.Knobs = []string{workers + ": more workers, if CPU is free", batch, more}
		return
	}
	b := pr.Plugins[0]
	if top := mostUtilized(pr.Plugins); top != nil && (pr.Load == pr.WorkerUtilization || pr.Load == pr.PluginUtilization) {
		// The load is a flow window: rank in the same terms.
		b = *top
	}
	pr.Bottleneck = &b
	share := ""
	if b.PluginShare != nil {
		share = fmt.Sprintf(" takes %s of the filters' and outputs' time", percent(*b.PluginShare))
	}
	pr.Verdict = fmt.Sprintf("bottleneck: %s%s; %s", b, share, how)
	if b.Kind == "output" {
		pr.Knobs = append(pr.esChecks(&b),
			fmt.Sprintf("the output's own parallelism: %s's workers or connection pool settings, or several outputs each taking part of the events", b.Name),
			batch+": bigger batches mean fewer, larger requests from an output that sends in bulk",
			workers+": more batches in flight, unless the output runs single-threaded",
			more,
		)
		return
	}
	pr.Knobs = []string{
		workers + ": filters run in every worker, so more workers (with free CPU) run more of this filter at once",
		fmt.Sprintf("the filter's own cost: %s's configuration (patterns, lookups, scripts) per event", b.Name),
		batch,
		more,
	}
}

// waitedText words the waiting share; with a persisted queue it says the
// share includes the disk write.
func (pr *Pipeline) waitedText() string {
	if pr.Queue.Type == "persisted" {
		return fmt.Sprintf("inputs spent %s of the time pushing into the persisted queue (waiting for a worker or writing to disk)", percent(*pr.Waiting))
	}
	return fmt.Sprintf("inputs waited for a free worker %s of the time", percent(*pr.Waiting))
}

// noLoad says why no figure decides the load.
func (pr *Pipeline) noLoad() string {
	var why []string
	if pr.WorkerConcurrency == nil {
		why = append(why, "no flow metrics")
	} else {
		why = append(why, "worker_concurrency without the pipeline's workers")
	}
	switch {
	case pr.Waiting == nil:
		why = append(why, "waiting unknown: "+pr.WaitingUnknown)
	case pr.Queue.Type == "persisted":
		why = append(why, "a persisted queue's push time includes the disk write, so it does not measure waiting for a worker")
	}
	return strings.Join(why, "; ")
}

// SaturatedBackpressure is the queue_backpressure (the inputs' blocked
// time over wall-clock time) from which frozen counters mean stuck, not
// idle.
const SaturatedBackpressure = 0.7

// saturation says what in the flow metrics shows a pipeline busy, "" when
// nothing does: worker_utilization at or above DegradedPercent, or
// queue_backpressure at or above SaturatedBackpressure.
func saturation(pr *Pipeline) string {
	var busy []string
	for _, f := range []*Figure{pr.WorkerUtilization, pr.PluginUtilization} {
		if f != nil && f.Value >= DegradedPercent {
			busy = append(busy, fmt.Sprintf("%s %s", f.Source, percent(f.Value)))
		}
	}
	if f := pr.QueueBackpressure; f != nil && f.Value >= SaturatedBackpressure {
		busy = append(busy, fmt.Sprintf("%s %s", f.Source, trim(f.Value)))
	}
	return strings.Join(busy, ", ")
}

// stuck is the verdict on counters that did not move beside saturated
// flow metrics: a plugin holds every worker (an output waiting on its
// destination, a filter that never returns), so nothing finishes.
func stuck(pr *Pipeline, busy string) {
	pr.State, pr.Stuck = Blocked, true
	how := fmt.Sprintf("stuck: no events moved and no batch finished, yet %s", busy)
	b := mostUtilized(pr.Plugins)
	if b == nil {
		pr.Verdict = "bottleneck: the workers (" + how + "); no filter or output reports its worker_utilization"
		pr.Knobs = []string{hotThreads}
		return
	}
	pr.Bottleneck = b
	pr.Verdict = fmt.Sprintf("bottleneck: %s at worker_utilization %s, the highest (%s)", b, percent(b.WorkerUtilization.Value), how)
	if b.Kind == "output" {
		pr.Knobs = append(pr.esChecks(b), outputCheck(b), hotThreads)
		return
	}
	pr.Knobs = []string{
		fmt.Sprintf("the filter %q: a lookup or script that never returns (%s's timeouts)", b.ID, b.Name),
		hotThreads,
	}
}

// hotThreads is where a stuck pipeline's workers show what they wait on.
const hotThreads = "GET /_node/hot_threads on the node shows where the worker threads wait"

// outputCheck is the first thing to check on a stuck output.
func outputCheck(b *Plugin) string {
	return fmt.Sprintf("the output's destination: is it up and accepting? (%s's own errors in the Logstash log)", b.Name)
}

// esChecks are what an operator checks first when an elasticsearch output
// holds the pipeline back: the output's own error counters, then
// rejections on the Elasticsearch side. nil for other outputs.
func (pr *Pipeline) esChecks(b *Plugin) []string {
	if b.Name != "elasticsearch" {
		return nil
	}
	span := "lifetime"
	if pr.Events.InRate != nil {
		span = "over the interval"
	}
	c := b.Counters
	var errs []string
	for _, k := range []string{"bulk_requests.with_errors", "bulk_requests.failures", "documents.non_retryable_failures", "documents.dlq_routed"} {
		if v, ok := c[k]; ok {
			errs = append(errs, fmt.Sprintf("%s %d", k, v))
		}
	}
	var codes []string
	for k := range c {
		if code, ok := strings.CutPrefix(k, "bulk_requests.responses."); ok && code != "200" && code != "429" {
			codes = append(codes, k)
		}
	}
	slices.Sort(codes)
	for _, k := range codes {
		errs = append(errs, fmt.Sprintf("%s %d", k, c[k]))
	}
	var own string
	switch {
	case len(errs) > 0:
		own = fmt.Sprintf("the output's own errors (%s): %s; the Logstash log says why", span, strings.Join(errs, ", "))
	case c != nil:
		own = fmt.Sprintf("the output's own errors (%s): none counted (bulk_requests.successes %d, documents.successes %d)", span, c["bulk_requests.successes"], c["documents.successes"])
	default:
		own = "the output's own errors: this body has no bulk_requests or documents counters for it; look for bulk errors and retries in the Logstash log"
	}
	rejected := "rejections on the Elasticsearch side: "
	if n, ok := c["bulk_requests.responses.429"]; ok {
		rejected += fmt.Sprintf("%d bulk responses were HTTP 429 (%s); ", n, span)
	}
	rejected += "GET _cat/thread_pool/write?v&h=node_name,active,queue,rejected on the cluster (rejected grows when it sheds writes), and its health and disk watermarks"
	return []string{own, rejected}
}

// mostUtilized returns the plugin with the highest worker_utilization flow
// metric, nil when none reports it.
func mostUtilized(ps []Plugin) *Plugin {
	var top *Plugin
	for i := range ps {
		if f := ps[i].WorkerUtilization; f != nil && (top == nil || f.Value > top.WorkerUtilization.Value) {
			top = &ps[i]
		}
	}
	if top == nil {
		return nil
	}
	b := *top
	return &b
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
