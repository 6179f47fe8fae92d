// Package promtext writes the Prometheus text exposition format (0.0.4)
// for the series hala writes without client_golang: the agent, which
// runs in the small hala binary (client_golang's init and size would
// cost every hala check and the agent's memory), and the director's
// per-backend traffic, whose labels are fixed per inventory and too many
// to build per scrape.
package promtext

import (
	"math"
	"strconv"
	"sync"
)

// Family is one metric family: its name, type (counter, gauge,
// histogram) and help text.
type Family struct {
	Name, Type, Help string
}

// AppendHeader appends the family's HELP and TYPE lines.
func (f Family) AppendHeader(b []byte) []byte {
	b = append(b, "# HELP "...)
	b = append(b, f.Name...)
	b = append(b, ' ')
	b = appendEscaped(b, f.Help, false)
	b = append(b, "\n# TYPE "...)
	b = append(b, f.Name...)
	b = append(b, ' ')
	b = append(b, f.Type...)
	return append(b, '\n')
}

// AppendSample appends one sample line; labels are rendered pairs (see
// Labels), or "" for none.
func AppendSample(b []byte, name, labels string, v float64) []byte {
	return appendFloat(appendSeries(b, name, labels), v)
}

// AppendUint is AppendSample for a counter read as an integer, which a
// float64 would round above 2^53.
func AppendUint(b []byte, name, labels string, v uint64) []byte {
	b = strconv.AppendUint(appendSeries(b, name, labels), v, 10)
	return append(b, '\n')
}

// appendSeries appends the name and labels of a sample line and the
// space before its value.
func appendSeries(b []byte, name, labels string) []byte {
	b = append(b, name...)
	if labels != "" {
		b = append(b, '{')
		b = append(b, labels...)
		b = append(b, '}')
	}
	return append(b, ' ')
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		b = append(b, "+Inf"...)
	case math.IsInf(v, -1):
		b = append(b, "-Inf"...)
	case math.IsNaN(v):
		b = append(b, "NaN"...)
	default:
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return append(b, '\n')
}

// Labels renders name, value, ... as `name="value",...` with the text
// format's escapes, in the order given (names are the caller's
// constants: hala's own families list them sorted, as client_golang does).
func Labels(kv ...string) string {
	var b []byte
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, kv[i]...)
		b = append(b, `="`...)
		b = appendEscaped(b, kv[i+1], true)
		b = append(b, '"')
	}
	return string(b)
}

// appendEscaped appends s with the text format's escapes: backslash and
// newline, and in label values the double quote. (A function, not a
// package-level strings.Replacer: the hala binary, which every hala check
// starts, pays for each package-level allocation.)
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// Histogram counts observations into cumulative buckets; safe for
// concurrent use.
type Histogram struct {
	bounds []float64

	mu     sync.Mutex
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
}

// NewHistogram returns a histogram over the upper bounds, ascending.
func NewHistogram(bounds []float64) *Histogram {
	return &Histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

// ExponentialBuckets returns count bounds from start, each factor times
// the last.
func ExponentialBuckets(start, factor float64, count int) []float64 {
	out := make([]float64, count)
	for i := range out {
		out[i] = start
		start *= factor
	}
	return out
}

// Observe counts v.
func (h *Histogram) Observe(v float64) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.mu.Lock()
	h.counts[i]++
	h.sum += v
	h.mu.Unlock()
}

// Append appends the histogram's _bucket, _sum and _count samples (not
// the header) under f's name.
func (h *Histogram) Append(b []byte, f Family) []byte {
	h.mu.Lock()
	counts := append([]uint64(nil), h.counts...)
	sum := h.sum
	h.mu.Unlock()
	var total uint64
	for i, c := range counts {
		total += c
		le := "+Inf"
		if i < len(h.bounds) {
			le = strconv.FormatFloat(h.bounds[i], 'g', -1, 64)
		}
		b = AppendUint(b, f.Name+"_bucket", `le="`+le+`"`, total)
	}
	b = AppendSample(b, f.Name+"_sum", "", sum)
	return AppendUint(b, f.Name+"_count", "", total)
}
