package check

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/hala-lb/hala/pkg/drain"
	"github.com/hala-lb/hala/pkg/logstash"
)

// DefaultRunningInterval is how long a /_health_report answer is reused.
const DefaultRunningInterval = 30 * time.Second

// DefaultStateDir holds the --max-idle and --require-running state files.
const DefaultStateDir = "/run/hala"

// MaxWeight is the largest weight misc_dynamic can express (exit 255 = 2+253).
const MaxWeight = 253

// Source is where a check gets node data; *logstash.Client implements it.
type Source interface {
	NodeStats(ctx context.Context, pipeline string) (*logstash.NodeStats, error)
	HealthReport(ctx context.Context) (*logstash.HealthReport, error)
}

// Answered is a Source whose node stats were already read (Stats, or the
// Err that asking gave), so that several verdicts come from one request
// (hala director judges every input of a backend from one answer; hala
// status every service's). HealthReport goes to Health, or fails with
// logstash.ErrNoHealthReport when Health is nil.
type Answered struct {
	Stats  *logstash.NodeStats
	Err    error
	Health Source
}

// NodeStats returns the answer already read, whatever pipeline is asked.
func (a Answered) NodeStats(context.Context, string) (*logstash.NodeStats, error) {
	return a.Stats, a.Err
}

// HealthReport asks Health.
func (a Answered) HealthReport(ctx context.Context) (*logstash.HealthReport, error) {
	if a.Health == nil {
		return nil, logstash.ErrNoHealthReport
	}
	return a.Health.HealthReport(ctx)
}

// Options says what one check run asks.
type Options struct {
	// Address is the API's host:port, as messages show it and state keys use it.
	Address string
	// Host is the node's address, used by Probe.
	Host string
	// Input is the input plugin id to look for.
	Input string
	// Pipeline limits the search to one pipeline ("" = any pipeline).
	Pipeline string
	// Timeout is the caller's bound on the run; it only words the message
	// when ctx's deadline passes.
	Timeout time.Duration

	// RequireRunning also asks /_health_report (8.16+) that the pipeline's
	// state is RUNNING, at most once per RunningInterval per node.
	RequireRunning  bool
	RunningInterval time.Duration
	// Probe also connects to ProbePort on Host for inputs that listen on TCP.
	Probe     bool
	ProbePort int
	// MaxIdle > 0 fails the input when its events.out has not grown for
	// that long. Each failure restarts the idle clock, so the node is
	// readmitted at the next run and judged again after another MaxIdle:
	// a removed node gets no traffic, and its counter could never move.
	MaxIdle time.Duration
	// DynamicWeight derives Verdict.Weight from the pipeline's load.
	DynamicWeight bool
	// Weights keeps the load weights' state between runs (default: a
	// file per pipeline in StateDir).
	Weights WeightStore
	// DrainDir, when set, is where hala drain's records are looked up
	// by Host: a drained backend is down, or with DynamicWeight up at
	// weight 0. A record that cannot be read is ignored with a warning.
	DrainDir string
	// StateDir keeps state between runs (default DefaultStateDir).
	StateDir string
	// ReadOnly reads state but never writes it (--explain: a run by hand
	// must not change what keepalived's next check decides).
	ReadOnly bool

	// Now and Dial default to time.Now and a net.Dialer; tests replace them.
	Now  func() time.Time
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Verdict is the outcome of one check.
type Verdict struct {
	Healthy bool
	// Weight is 0..MaxWeight when Options.DynamicWeight is set, else -1.
	Weight int
	// Address, Input and Pipeline name what was checked; Pipeline is the
	// pipeline that matched, or the one asked for.
	Address  string
	Input    string
	Pipeline string
	// Reason is what follows the subject in String: `not found in ...`,
	// `found in pipeline "main"`, `: timed out after 2s`.
	Reason string
	// Notes explain the steps taken (for --explain), in order.
	Notes []string
	// Warnings are problems that did not decide the verdict but that an
	// operator must hear of, such as state that cannot be kept; the
	// caller logs them.
	Warnings []string
	// Drained is the backend's drain record, when it has one.
	Drained *drain.Record
	// Stats is what the node answered (nil when it did not).
	Stats *logstash.NodeStats
	// Err is the error behind an unhealthy verdict, if any.
	Err error
	// Dynamic is Options.DynamicWeight, for ExitCode.
	Dynamic bool
}

// String is the one line hala check prints and logs, such as
// `192.168.1.210:9600 input "udp-5514" not found in pipeline "main" (inputs there: "tcp-5514")`.
func (v *Verdict) String() string {
	return fmt.Sprintf("%s input %q%s", v.Address, v.Input, v.Reason)
}

// ExitCode maps the verdict to keepalived's MISC_CHECK exit status: 0
// healthy, 1 unhealthy; with misc_dynamic, healthy is 2+Weight (2..255).
func (v *Verdict) ExitCode() int {
	switch {
	case !v.Healthy:
		return 1
	case v.Dynamic && v.Weight >= 0:
		return 2 + min(v.Weight, MaxWeight)
	}
	return 0
}

func (v *Verdict) note(format string, args ...any) {
	v.Notes = append(v.Notes, fmt.Sprintf(format, args...))
}

func (v *Verdict) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	v.Warnings = append(v.Warnings, msg)
	v.Notes = append(v.Notes, "warning: "+msg)
}

func (v *Verdict) fail(reason string, err error) *Verdict {
	v.Healthy = false
	v.Weight = -1
	v.Reason = reason
	v.Err = err
	return v
}

// Run performs one check. It never exits or logs: the caller prints
// v.String() and exits with v.ExitCode().
func Run(ctx context.Context, src Source, o Options) *Verdict {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir
	}
	if o.RunningInterval <= 0 {
		o.RunningInterval = DefaultRunningInterval
	}
	v := &Verdict{Address: o.Address, Input: o.Input, Pipeline: o.Pipeline, Weight: -1, Dynamic: o.DynamicWeight}

	if o.DrainDir != "" {
		v.Drained = lookupDrain(o, v)
		if v.Drained != nil && !o.DynamicWeight {
			v.note("%s: down without asking the API (undrain with hala undrain)", v.Drained)
			return v.fail(": "+v.Drained.Reason(), nil)
		}
	}
	stats, err := src.NodeStats(ctx, o.Pipeline)
	if err != nil {
		return v.fail(v.where()+": "+Describe(ctx, err, o.Timeout), err)
	}
	v.Stats = stats
	node := ""
	if stats.Name != "" {
		node = fmt.Sprintf(", node %q", stats.Name)
	}
	v.note("Logstash %s%s (%s layout), %d pipeline(s)", orUnknown(stats.Version), node, stats.Layout, len(stats.Pipelines))

	var p *logstash.Pipeline
	var in *logstash.Input
	if o.Pipeline != "" {
		p = stats.Pipeline(o.Pipeline)
		if p == nil {
			return v.fail(fmt.Sprintf(": pipeline %q not found (%s)", o.Pipeline, listPipelines(stats)), nil)
		}
		in = p.Input(o.Input)
		if in == nil {
			return v.fail(fmt.Sprintf(" not found in pipeline %q (%s)", p.ID, listInputs(p)), nil)
		}
	} else {
		p, in = stats.FindInput(o.Input)
		if in == nil {
			return v.fail(notFoundAnywhere(stats), nil)
		}
		v.Pipeline = p.ID
	}
	v.Healthy = true
	v.Reason = fmt.Sprintf(" found in pipeline %q", p.ID)
	v.note("%s found in %s%s", in, p, eventsNote(in))

	if o.MaxIdle > 0 {
		if reason := checkIdle(o, v, p, in); reason != "" {
			return v.fail(fmt.Sprintf(" in pipeline %q %s", p.ID, reason), nil)
		}
	}
	if o.RequireRunning {
		if reason, err := checkRunning(ctx, src, o, v, p); reason != "" {
			return v.fail(fmt.Sprintf(" in pipeline %q: %s", p.ID, reason), err)
		}
	}
	if o.Probe {
		if reason, err := probe(ctx, o, v, in); reason != "" {
			return v.fail(fmt.Sprintf(" found in pipeline %q but %s", p.ID, reason), err)
		}
	}
	if o.DynamicWeight {
		if v.Drained != nil {
			// Up at weight 0: established TCP sessions finish, new ones
			// go elsewhere. The load state is left for the undrain.
			v.Weight = 0
			v.Reason += ", weight 0 (" + v.Drained.Reason() + ")"
			return v
		}
		weighLoad(o, v, p)
	}
	return v
}

// lookupDrain returns Host's drain record, or nil (not drained, or a
// record that cannot be read: warned, never a failed check).
func lookupDrain(o Options, v *Verdict) *drain.Record {
	addr, err := netip.ParseAddr(o.Host)
	if err != nil {
		v.note("drain: %q is not an IP address; drains are kept per address", o.Host)
		return nil
	}
	rec, err := drain.Lookup(o.DrainDir, addr)
	if err != nil {
		v.warn("drain record ignored, the backend is treated as not drained: %v", err)
		return nil
	}
	return rec
}

// weighLoad sets v.Weight from the pipeline's load and the state kept
// since the last run.
func weighLoad(o Options, v *Verdict, p *logstash.Pipeline) {
	store := o.Weights
	if store == nil {
		store = fileWeights{dir: o.StateDir, readOnly: o.ReadOnly}
	}
	key := o.Address + "\x00" + p.ID
	prev, _, err := store.LoadWeight(key)
	if err != nil {
		v.warn("load weight computed without the last sample: %v", err)
	}
	w, why, next := Weight(p, prev)
	if err := store.SaveWeight(key, next); err != nil {
		v.warn("load weight state not kept (%v): no damping, and pre-8.5 nodes stay at full weight", err)
	}
	v.Weight = w
	v.Reason += fmt.Sprintf(", weight %d (%s)", w, why)
}

// where is the subject's pipeline part of an error message.
func (v *Verdict) where() string {
	if v.Pipeline != "" {
		return fmt.Sprintf(" in pipeline %q", v.Pipeline)
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "(version unknown)"
	}
	return s
}

func eventsNote(in *logstash.Input) string {
	if in.Events == nil {
		return ", no events yet"
	}
	return fmt.Sprintf(", events.out %d", in.Events.Out)
}

// Describe words an error from a Source as the tail of a check message:
// "connect: connection refused", "timed out after 2s", "HTTP 401 from API
// (credentials?)", "response is not Logstash node stats JSON (...)".
func Describe(ctx context.Context, err error, timeout time.Duration) string {
	var opErr *net.OpError
	var schemeErr *logstash.SchemeError
	var untrusted *logstash.UntrustedError
	var redirect *logstash.RedirectError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (ctx != nil && errors.Is(ctx.Err(), context.DeadlineExceeded)):
		if timeout > 0 {
			return fmt.Sprintf("timed out after %s", timeout)
		}
		return "timed out"
	case errors.As(err, &schemeErr):
		return fmt.Sprintf("%v: use --scheme %s (api_scheme in the inventory)", err, schemeErr.Seems)
	case errors.As(err, &untrusted) && untrusted.CAFile != "":
		return fmt.Sprintf("TLS: %v: the CA in %s did not sign it (is that file the CA that issued the API's certificate?)", err, untrusted.CAFile)
	case errors.As(err, &unknownCA):
		return fmt.Sprintf("TLS: %v (give the CA with --ca)", err)
	case errors.As(err, &redirect) && redirect.SameHost():
		return fmt.Sprintf("%v: if that is the API, use --scheme %s --port %s", err, redirect.URL.Scheme, redirect.Port())
	case errors.As(err, &hostErr):
		return fmt.Sprintf("TLS: %v", err)
	case errors.As(err, &recErr):
		return "TLS handshake got a non-TLS answer (is the API plain http? drop --scheme https)"
	case errors.As(err, &opErr) && opErr.Op == "dial" && opErr.Err != nil:
		return opErr.Err.Error()
	}
	return err.Error()
}

// maxListed bounds how many ids a message lists.
const maxListed = 8

func quoteList(ids []string) string {
	var b strings.Builder
	for i, id := range ids {
		if i == maxListed {
			fmt.Fprintf(&b, " and %d more", len(ids)-maxListed)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", id)
	}
	return b.String()
}

func listInputs(p *logstash.Pipeline) string {
	if len(p.Inputs) == 0 {
		return "it has no inputs"
	}
	return "inputs there: " + quoteList(p.InputIDs())
}

func listPipelines(s *logstash.NodeStats) string {
	if len(s.Pipelines) == 0 {
		return "no pipelines are running; Logstash starting?"
	}
	ids := make([]string, len(s.Pipelines))
	for i, p := range s.Pipelines {
		ids[i] = p.ID
	}
	return "pipelines there: " + quoteList(ids)
}

func notFoundAnywhere(s *logstash.NodeStats) string {
	switch len(s.Pipelines) {
	case 0:
		return " not found: no pipelines are running (Logstash starting?)"
	case 1:
		return fmt.Sprintf(" not found in pipeline %q (%s)", s.Pipelines[0].ID, listInputs(&s.Pipelines[0]))
	}
	var ids []string
	var groups []string
	listed := 0
	for i := range s.Pipelines {
		p := &s.Pipelines[i]
		ids = append(ids, p.ID)
		in := p.InputIDs()
		if len(in) == 0 {
			continue
		}
		// At most maxListed ids in all, so the line stays readable.
		if listed >= maxListed {
			groups = append(groups, fmt.Sprintf("%s: %d more", p.ID, len(in)))
			continue
		}
		shown := in[:min(len(in), maxListed-listed)]
		g := fmt.Sprintf("%s: %s", p.ID, quoteList(shown))
		if more := len(in) - len(shown); more > 0 {
			g += fmt.Sprintf(" and %d more", more)
		}
		groups = append(groups, g)
		listed += len(shown)
	}
	if len(groups) == 0 {
		return fmt.Sprintf(" not found in pipelines %s (none has inputs)", quoteList(ids))
	}
	return fmt.Sprintf(" not found in pipelines %s (inputs there: %s)", quoteList(ids), strings.Join(groups, "; "))
}
