package diagnose

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// maxID bounds a plugin id in the text table; generated ids are 64 hex
// digits, and JSON has them whole.
const maxID = 24

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a terminal: a header, then per pipeline
// its figures, its ranked plugins, the verdict and the knobs.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	node := r.Node
	if node == "" {
		node = "(unnamed)"
	}
	version := r.Version
	if version == "" {
		version = "version unknown"
	}
	fmt.Fprintf(&b, "node %s", node)
	if r.Address != "" {
		fmt.Fprintf(&b, " at %s", r.Address)
	}
	fmt.Fprintf(&b, ", Logstash %s, ", version)
	if r.IntervalMillis > 0 {
		fmt.Fprintf(&b, "rates over %s\n", time.Duration(r.IntervalMillis)*time.Millisecond)
	} else {
		b.WriteString("lifetime totals (use --interval for rates)\n")
	}
	if len(r.Pipelines) == 0 {
		b.WriteString("\nno pipelines\n")
	}
	for _, p := range r.Pipelines {
		b.WriteString("\n")
		p.writeText(&b, r.IntervalMillis > 0)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (p *Pipeline) writeText(b *strings.Builder, rates bool) {
	fmt.Fprintf(b, "pipeline %q: %s\n", p.ID, p.State)
	ev := p.Events
	if rates && ev.InRate != nil {
		fmt.Fprintf(b, "  events         in %s/s, filtered %s/s, out %s/s (%d, %d, %d)\n",
			rate(*ev.InRate), rate(*ev.FiltRate), rate(*ev.OutRate), ev.In, ev.Filtered, ev.Out)
	} else {
		fmt.Fprintf(b, "  events         in %d, filtered %d, out %d\n", ev.In, ev.Filtered, ev.Out)
	}
	if p.Waiting != nil {
		fmt.Fprintf(b, "  waiting        %s (queue push %d ms / worker %d ms)\n", p.waitedText(), p.QueuePushMillis, p.WorkerMillis)
	} else {
		fmt.Fprintf(b, "  waiting        unknown (%s)\n", p.WaitingUnknown)
	}
	var flows []string
	if f := p.WorkerUtilization; f != nil {
		flows = append(flows, "worker_utilization "+percent(f.Value)+" "+window(f))
	}
	if f := p.PluginUtilization; f != nil {
		flows = append(flows, "filters' and outputs' worker_utilization "+percent(f.Value)+" "+window(f))
	}
	if f := p.QueueBackpressure; f != nil {
		flows = append(flows, "queue_backpressure "+trim(f.Value)+" "+window(f))
	}
	if f := p.WorkerConcurrency; f != nil {
		flows = append(flows, "worker_concurrency "+trim(f.Value)+" "+window(f))
	}
	if len(flows) > 0 {
		fmt.Fprintf(b, "  flow           %s\n", strings.Join(flows, ", "))
	}
	if p.Workers > 0 {
		from := ""
		switch p.SettingsFrom {
		case fromPipelines:
			from = " (from /_node/pipelines)"
		case fromNode:
			from = " (the node's defaults; this pipeline may set its own)"
		}
		fmt.Fprintf(b, "  settings       pipeline.workers %d, pipeline.batch.size %d%s\n", p.Workers, p.BatchSize, from)
	}
	if q := p.Queue; q.Type != "" {
		line := fmt.Sprintf("%s, %d events", q.Type, q.Events)
		switch {
		case q.FillPercent != nil:
			line += fmt.Sprintf(", %s of %s (%s full)", formatBytes(float64(*q.Bytes)), formatBytes(float64(q.MaxBytes)), percent(*q.FillPercent))
		case q.Type == "persisted" && q.Bytes == nil && q.MaxBytes > 0:
			line += fmt.Sprintf(", size unknown (not reported) of %s", formatBytes(float64(q.MaxBytes)))
		}
		if g := q.GrowthBytes; g != nil {
			line += fmt.Sprintf(", growing %s/s %s", formatBytes(g.Value), window(g))
		}
		fmt.Fprintf(b, "  queue          %s\n", line)
	}
	if p.DeadLetterBytes != nil {
		fmt.Fprintf(b, "  dead letters   %s\n", formatBytes(float64(*p.DeadLetterBytes)))
	}
	if p.ReloadFailures > 0 {
		line := fmt.Sprintf("%d failed", p.ReloadFailures)
		if p.LastReloadError != "" {
			line += ", last error: " + p.LastReloadError
		}
		fmt.Fprintf(b, "  reloads        %s\n", line)
	}
	if len(p.Plugins) > 0 {
		b.WriteString("  worker time by plugin, most first:\n")
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "    PLUGIN\tMILLIS\tOF WORKERS\tOF PLUGINS\tMS/EVENT\tUTILIZATION")
		for _, pl := range p.Plugins {
			fmt.Fprintf(tw, "    %s\t%d\t%s\t%s\t%s\t%s\n", pluginLabel(pl), pl.Millis,
				optPercent(pl.WorkerShare), optPercent(pl.PluginShare), optRate(pl.MillisPerEvent), optFigure(pl.WorkerUtilization))
		}
		tw.Flush()
	}
	for _, n := range p.Notes {
		fmt.Fprintf(b, "  note: %s\n", n)
	}
	fmt.Fprintf(b, "  verdict: %s\n", p.Verdict)
	for _, k := range p.Knobs {
		fmt.Fprintf(b, "    - %s\n", k)
	}
}

// pluginLabel is the plugin with its id shortened for the table.
func pluginLabel(p Plugin) string {
	id := p.ID
	if utf8.RuneCountInString(id) > maxID {
		id = string([]rune(id)[:maxID-1]) + "…"
	}
	p.ID = id
	return p.String()
}

func window(f *Figure) string {
	i := strings.LastIndexByte(f.Source, ' ')
	w := f.Source[i+1:]
	if w == "" {
		w = f.Source
	}
	return "(" + w + ")"
}

func rate(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func optPercent(v *float64) string {
	if v == nil {
		return "-"
	}
	return percent(*v)
}

func optRate(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', 3, 64)
}

func optFigure(f *Figure) string {
	if f == nil {
		return "-"
	}
	return percent(f.Value)
}
