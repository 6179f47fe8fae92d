package e2e

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is one scenario's line in the results table.
type Row struct {
	// Scenario names the phase ("2 input stopped on stash2").
	Scenario string
	// Time is the measured detection or failover time(s), as text.
	Time string
	// Sent, Received and Lost count the scenario's numbered messages.
	Sent, Received, Lost int
	// Bound states what was asserted.
	Bound string
	// Failures lists every assertion that did not hold; none = PASS.
	Failures []string
}

// Pass reports whether every assertion of the row held.
func (r Row) Pass() bool { return len(r.Failures) == 0 }

// Failf records a failed assertion.
func (r *Row) Failf(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

// Check records a failed assertion unless ok.
func (r *Row) Check(ok bool, format string, args ...any) {
	if !ok {
		r.Failf(format, args...)
	}
}

// Add counts a tally into the row's figures.
func (r *Row) Add(t Tally) {
	r.Sent += t.Sent
	r.Received += t.Received
	r.Lost += t.Lost
}

// Table is the suite's results, one row per scenario.
type Table []Row

// Pass reports whether every row passed.
func (t Table) Pass() bool {
	for _, r := range t {
		if !r.Pass() {
			return false
		}
	}
	return true
}

// String renders the table as aligned text with a header, followed by one
// line per failed assertion.
func (t Table) String() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "scenario\tdetection/failover\tsent\treceived\tlost\tbound\tresult")
	for _, r := range t {
		res := "PASS"
		if !r.Pass() {
			res = "FAIL"
		}
		tm := r.Time
		if tm == "" {
			tm = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", r.Scenario, tm, r.Sent, r.Received, r.Lost, r.Bound, res)
	}
	w.Flush()
	for _, r := range t {
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "FAIL %s: %s\n", r.Scenario, f)
		}
	}
	return b.String()
}

// Seconds formats d as seconds with one decimal ("6.2s").
func Seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// Bound formats a bound: in milliseconds where Seconds would round it
// (50 ms, 250 ms), else as Seconds.
func Bound(d time.Duration) string {
	if d%(100*time.Millisecond) != 0 {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return Seconds(d)
}
