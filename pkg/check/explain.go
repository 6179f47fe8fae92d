package check

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hala-lb/hala/pkg/logstash"
)

// Report is what hala check --explain prints: what was asked, what came
// back, what was checked and the verdict, for a person at a terminal.
type Report struct {
	// Options are the check's options (Address, Input, Pipeline, Timeout).
	Options Options
	// Scheme is the API's scheme, "http" or "https".
	Scheme string
	// AuthFile is the basic auth file used ("" = none).
	AuthFile string
	// Insecure is set when the API's certificate was not verified.
	Insecure bool
	// Exchanges are the HTTP requests made, in order.
	Exchanges []logstash.Exchange
	// Verdict is the outcome (with the node stats when they were read).
	Verdict *Verdict
	// Elapsed is how long the check took.
	Elapsed time.Duration
}

// maxReportPipelines bounds the pipelines a report lists.
const maxReportPipelines = 20

// WriteText prints the report.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	o, v := r.Options, r.Verdict
	where := "any pipeline"
	if o.Pipeline != "" {
		where = fmt.Sprintf("pipeline %q", o.Pipeline)
	}
	fmt.Fprintf(&b, "hala check: input %q in %s on %s://%s, timeout %s\n", o.Input, where, r.Scheme, o.Address, o.Timeout)
	if r.AuthFile != "" {
		fmt.Fprintf(&b, "  basic auth from %s\n", r.AuthFile)
		if r.Scheme != "https" {
			fmt.Fprintf(&b, "  note: credentials travel in clear over http; prefer --scheme https\n")
		}
	}
	if r.Insecure {
		fmt.Fprintf(&b, "  note: --insecure: the API's certificate is not verified\n")
	}
	fmt.Fprintf(&b, "asked:\n")
	if len(r.Exchanges) == 0 {
		fmt.Fprintf(&b, "  nothing (the check could not start)\n")
	}
	for _, e := range r.Exchanges {
		fmt.Fprintf(&b, "  %s\n", exchangeText(e))
	}
	if s := v.Stats; s != nil {
		fmt.Fprintf(&b, "got:\n")
		for i, p := range s.Pipelines {
			if i == maxReportPipelines {
				fmt.Fprintf(&b, "  ... and %d more pipelines\n", len(s.Pipelines)-maxReportPipelines)
				break
			}
			fmt.Fprintf(&b, "  %s: %d input(s)", &s.Pipelines[i], len(p.Inputs))
			if q := p.Queue.Type; q != "" {
				fmt.Fprintf(&b, ", %s queue", q)
			}
			if _, why, ok := PipelineLoad(&s.Pipelines[i], WeightState{}); ok {
				fmt.Fprintf(&b, ", %s", why)
			}
			b.WriteByte('\n')
			for j := range p.Inputs {
				in := &p.Inputs[j]
				ev := "no events yet"
				if in.Events != nil {
					ev = fmt.Sprintf("events.out %d, queue_push_duration %dms", in.Events.Out, in.Events.QueuePushDurationMillis)
				}
				mark := " "
				if in.ID == o.Input {
					mark = "*"
				}
				fmt.Fprintf(&b, "   %s %s: %s\n", mark, in, ev)
			}
		}
	}
	if len(v.Notes) > 0 {
		fmt.Fprintf(&b, "checked:\n")
		for _, n := range v.Notes {
			fmt.Fprintf(&b, "  %s\n", n)
		}
	}
	verdict := "UNHEALTHY"
	if v.Healthy {
		verdict = "healthy"
	}
	fmt.Fprintf(&b, "verdict: %s: %s\n", verdict, v)
	fmt.Fprintf(&b, "exit status %d (in %s)\n", v.ExitCode(), r.Elapsed.Round(10*time.Microsecond))
	_, err := io.WriteString(w, b.String())
	return err
}

// exchangeText is the exchange as Exchange.String prints it, except for a
// 404: the client falls back to the next endpoint without reading that
// body, so a count of 0 bytes means "not read", not an empty body.
func exchangeText(e logstash.Exchange) string {
	if e.Status == http.StatusNotFound && e.Err == nil && e.Bytes == 0 {
		return fmt.Sprintf("%s %s → %d (body not read) in %s", e.Method, e.URL, e.Status, e.Elapsed.Round(10*time.Microsecond))
	}
	return e.String()
}
