package promtext

import (
	"bytes"
	"math"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parse reads b with Prometheus' own text parser, so what hala writes is
// what a scraper reads.
func parse(t *testing.T, b []byte) map[string]*dtoFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Prometheus' parser refuses the output: %v\n%s", err, b)
	}
	out := map[string]*dtoFamily{}
	for name, f := range fams {
		out[name] = &dtoFamily{typ: f.GetType().String(), help: f.GetHelp()}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			s := sample{labels: labels}
			switch {
			case m.Counter != nil:
				s.value = m.GetCounter().GetValue()
			case m.Gauge != nil:
				s.value = m.GetGauge().GetValue()
			case m.Histogram != nil:
				s.value = m.GetHistogram().GetSampleSum()
				s.count = m.GetHistogram().GetSampleCount()
				for _, bk := range m.GetHistogram().GetBucket() {
					s.buckets = append(s.buckets, bk.GetCumulativeCount())
				}
			}
			out[name].samples = append(out[name].samples, s)
		}
	}
	return out
}

type dtoFamily struct {
	typ, help string
	samples   []sample
}

type sample struct {
	labels  map[string]string
	value   float64
	count   uint64
	buckets []uint64
}

func TestWrittenAsPrometheusReadsIt(t *testing.T) {
	g := Family{"x_up", "gauge", "1 while up.\nSecond line with a \\ backslash."}
	c := Family{"x_drops_total", "counter", "Drops."}
	var b []byte
	b = g.AppendHeader(b)
	b = AppendSample(b, "x_up", Labels("backend", `st"a\sh`+"\n2", "service", "syslog"), 1)
	b = AppendSample(b, "x_up", "", math.Inf(1))
	b = c.AppendHeader(b)
	b = AppendUint(b, "x_drops_total", Labels("backend", "l1"), 1<<60+1)
	fams := parse(t, b)
	up := fams["x_up"]
	if up == nil || up.typ != "GAUGE" || up.help != g.Help || len(up.samples) != 2 {
		t.Fatalf("x_up: %+v", up)
	}
	if got := up.samples[0].labels; got["backend"] != `st"a\sh`+"\n2" || got["service"] != "syslog" || up.samples[0].value != 1 {
		t.Errorf("escaped labels read back as %q = %v", got, up.samples[0].value)
	}
	if !math.IsInf(up.samples[1].value, 1) {
		t.Errorf("+Inf read back as %v", up.samples[1].value)
	}
	if d := fams["x_drops_total"]; d == nil || d.typ != "COUNTER" || d.samples[0].value != float64(1<<60+1) {
		t.Errorf("x_drops_total: %+v", d)
	}
	if !bytes.Contains(b, []byte("x_drops_total{backend=\"l1\"} 1152921504606846977\n")) {
		t.Errorf("a large counter lost digits:\n%s", b)
	}
}

func TestHistogram(t *testing.T) {
	f := Family{"x_seconds", "histogram", "Time."}
	h := NewHistogram(ExponentialBuckets(0.001, 10, 3)) // 1ms, 10ms, 100ms
	for _, v := range []float64{0.0005, 0.001, 0.05, 0.05, 7} {
		h.Observe(v)
	}
	b := h.Append(f.AppendHeader(nil), f)
	fams := parse(t, b)
	hs := fams["x_seconds"]
	if hs == nil || hs.typ != "HISTOGRAM" || len(hs.samples) != 1 {
		t.Fatalf("x_seconds: %+v\n%s", hs, b)
	}
	s := hs.samples[0]
	// le=0.001 holds 0.0005 and 0.001 (bounds are inclusive), le=0.01 the
	// same, le=0.1 adds the two 0.05s; 7 is only in +Inf (the count).
	if want := []uint64{2, 2, 4}; len(s.buckets) < 3 || s.buckets[0] != want[0] || s.buckets[1] != want[1] || s.buckets[2] != want[2] {
		t.Errorf("buckets %v, want %v then +Inf", s.buckets, want)
	}
	if s.count != 5 || math.Abs(s.value-7.1015) > 1e-9 {
		t.Errorf("count %d sum %v, want 5 and 7.1015", s.count, s.value)
	}
}
