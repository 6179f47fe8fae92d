package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hala-lb/hala/pkg/check"
	"github.com/hala-lb/hala/pkg/diagnose"
	"github.com/hala-lb/hala/pkg/logstash"
)

type diagnoseFlags struct {
	apiFlags
	pipeline string
	interval time.Duration
	timeout  time.Duration
	output   string
}

func newDiagnoseCommand(streams IOStreams) *cobra.Command {
	f := &diagnoseFlags{}
	cmd := &cobra.Command{
		Use:   "diagnose <ip> [--port N] [--pipeline NAME] [--interval 10s] [-o json]",
		Short: "Find the bottleneck of a Logstash pipeline from its node stats",
		Long: `Reads the node stats of the Logstash at <ip> (any version from 5.x) and, per
pipeline, reports events in, filtered and out, the share of time the inputs
waited for a free worker (queue_push_duration_in_millis over
duration_in_millis), each filter's and output's share of worker time,
ranked, the flow metrics the version has, pipeline.workers and batch size,
the queues and reload failures. It ends with a verdict naming the plugin
that holds the pipeline back and the settings that apply, or "no
bottleneck".

Load at or above 95% is degraded and above 99.999% blocked, as in
Logstash's own health report. The load is the pipeline's worker_utilization
(8.13+), else the sum of its filters' and outputs' worker_utilization
(8.7+), else the utilization over --interval when the pipeline's own
workers are known (node stats 8.17.1+, else GET /_node/pipelines), else
worker_concurrency over those workers, else the inputs' share of time
waiting. Counters that did not move beside saturated flow metrics
(worker_utilization 95% or more, queue_backpressure 0.7 or more) mean
stuck: blocked, naming the plugin with the highest worker_utilization.

Without --interval the figures are lifetime totals since the pipeline
started; with it, hala takes two samples that far apart and works on what
changed between them.

<ip> is an IP address, as for hala check: no name (none is looked up),
no port (that is --port's), no brackets around IPv6.

Exit status: 0 no bottleneck, 3 bottleneck found, 1 error.`,
		Example: `  hala diagnose 192.168.1.210
  hala diagnose 192.168.1.210 --pipeline main --interval 10s
  hala diagnose 192.168.1.210 -o json | jq '.pipelines[].verdict'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiagnose(cmd.Context(), streams, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.SortFlags = false
	f.addPort(cmd)
	fl.StringVar(&f.pipeline, "pipeline", "", "diagnose only this pipeline `ID` (default: every pipeline)")
	fl.DurationVar(&f.interval, "interval", 0, "take two samples `DURATION` apart and report rates (default: lifetime totals)")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Second, "bound on each request to the API (`DURATION`)")
	fl.StringVarP(&f.output, "output", "o", "text", "output `FORMAT`: text or json")
	f.addTLS(cmd)
	f.addMaxBody(cmd)
	return cmd
}

func runDiagnose(ctx context.Context, streams IOStreams, f *diagnoseFlags, host string) error {
	if f.output != "text" && f.output != "json" {
		return withHint(fmt.Errorf("unknown output format %q", f.output), "use -o text or -o json")
	}
	if f.timeout <= 0 {
		return fmt.Errorf("--timeout %s: must be positive", f.timeout)
	}
	if f.interval < 0 {
		return fmt.Errorf("--interval %s: must not be negative", f.interval)
	}
	if err := f.resolve(); err != nil {
		return err
	}
	ip, err := parseNodeIP("diagnose", host) // as hala check: no name lookup, no port
	if err != nil {
		return err
	}
	host = ip.String()
	cfg, err := f.config(host)
	if err != nil {
		return err
	}
	client, err := logstash.New(cfg)
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	addr := addrOf(host, f.port)
	samples, err := diagnose.Sample(ctx, client, f.pipeline, f.interval, f.timeout)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("diagnose %s: interrupted", addr)
		}
		return fmt.Errorf("diagnose %s: %s", addr, check.Describe(context.TODO(), err, f.timeout))
	}
	rep, err := diagnose.Analyze(samples, f.pipeline)
	if err != nil {
		return fmt.Errorf("diagnose %s: %w", addr, err)
	}
	rep.Address = addr
	if f.output == "json" {
		err = rep.WriteJSON(streams.Out)
	} else {
		err = rep.WriteText(streams.Out)
	}
	if err != nil {
		return err
	}
	if code := rep.ExitCode(); code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}
