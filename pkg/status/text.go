package status

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Width is the widest line of the table.
const Width = 100

// Status is the cluster as the local director sees it.
type Status struct {
	Cluster string `json:"cluster"`
	// Node is the director whose VIPs are shown ("" when none).
	Node string   `json:"node,omitempty"`
	Rows []Row    `json:"backends"`
	VIPs []VIPRow `json:"vips"`
	// IPVSNote and VIPNote say why the IPVS or VIP columns are empty.
	IPVSNote string `json:"ipvs_note,omitempty"`
	VIPNote  string `json:"vip_note,omitempty"`
	// State is Verdict's word: healthy, degraded or "no healthy backend".
	State string `json:"state"`
	// BGP is the local director's sessions and announcements
	// (cluster.ha = "bgp"); BGPNote says why it is missing.
	BGP     *BGP          `json:"bgp,omitempty"`
	BGPNote string        `json:"bgp_note,omitempty"`
	Elapsed time.Duration `json:"-"`
}

// API states.
const (
	APIUp   = "up"
	APIDown = "down"
)

// Input states: running (health report RUNNING, 8.16+), present (listed;
// nodes before 8.16 say no more), stopped (listed, pipeline not running),
// missing.
const (
	InputRunning = "running"
	InputPresent = "present"
	InputStopped = "stopped"
	InputMissing = "missing"
)

// Row is one backend of one service.
type Row struct {
	Service    string     `json:"service"`
	Backend    string     `json:"backend"`
	Address    netip.Addr `json:"address"`
	API        string     `json:"api"`
	Version    string     `json:"version,omitempty"`
	Input      string     `json:"input_id"`
	InputState string     `json:"input,omitempty"`
	// EventsPerSec is the input's events.out rate between the two samples.
	EventsPerSec *float64 `json:"events_per_second"`
	// Load is the pipeline's worker utilization, in percent.
	Load        *float64 `json:"load_percent"`
	LoadSource  string   `json:"load_source,omitempty"`
	Drained     bool     `json:"drained"`
	DrainReason string   `json:"drain_reason,omitempty"`
	// DrainError says why the backend's drain record could not be read
	// (it is then not drained: hala check and hala director skip it).
	DrainError string   `json:"drain_error,omitempty"`
	IPVS       IPVSCell `json:"ipvs"`
	// Problem says what is wrong (API down, input missing, ...).
	Problem string `json:"problem,omitempty"`
}

// IPVS cell states.
const (
	IPVSPresent   = "present"
	IPVSAbsent    = "absent"
	IPVSNoService = "no service"
	IPVSUnknown   = "unknown"
)

// IPVSCell is a backend's place in the local IPVS table.
type IPVSCell struct {
	State  string `json:"state"`
	Weight *int   `json:"weight,omitempty"`
	// Why is set when the table could not be read ("no root", "no IPVS").
	Why string `json:"why,omitempty"`
}

// String is "w 1", "absent", "no service" or "(no root)".
func (c IPVSCell) String() string {
	switch c.State {
	case IPVSPresent:
		return "w " + strconv.Itoa(*c.Weight)
	case IPVSUnknown:
		return "(" + c.Why + ")"
	}
	return c.State
}

// VIPRow is one VIP on the director's interface.
type VIPRow struct {
	Name      string       `json:"name"`
	Address   netip.Prefix `json:"address"`
	Interface string       `json:"interface"`
	Held      bool         `json:"held"`
	State     string       `json:"state"`
}

// Serving reports whether the backend can take the service's traffic:
// its API answers with the input there (and running, 8.16+), and it is
// not drained. (The IPVS cell is the director's business, and may be
// unknown here.)
func (r Row) Serving() bool {
	return r.API == APIUp && r.InputState != InputMissing && r.InputState != InputStopped && !r.Drained
}

// Verdict sums a Status up for scripts: hala status's exit status.
type Verdict int

// Verdicts, from best to worst.
const (
	// Healthy: every backend serves every service it is in.
	Healthy Verdict = iota
	// Degraded: some backend does not (down, input missing or stopped,
	// drained), but every service still has one that does.
	Degraded
	// NoHealthyBackend: some service has no backend that serves it.
	NoHealthyBackend
)

// String is "healthy", "degraded" or "no healthy backend".
func (v Verdict) String() string {
	return [...]string{"healthy", "degraded", "no healthy backend"}[v]
}

// Verdict is the worst of the services: NoHealthyBackend when one has no
// serving backend, Degraded when one has a backend that does not serve.
func (s *Status) Verdict() Verdict {
	v := Healthy
	for _, svc := range s.services() {
		switch svc.serving {
		case 0:
			return NoHealthyBackend
		case svc.rows:
		default:
			v = Degraded
		}
	}
	return v
}

type serviceCount struct {
	name          string
	rows, serving int
}

// services counts each service's rows and serving backends, in order.
func (s *Status) services() []serviceCount {
	var out []serviceCount
	at := map[string]int{}
	for _, r := range s.Rows {
		i, ok := at[r.Service]
		if !ok {
			i = len(out)
			at[r.Service] = i
			out = append(out, serviceCount{name: r.Service})
		}
		out[i].rows++
		if r.Serving() {
			out[i].serving++
		}
	}
	return out
}

// WriteJSON writes the status as one line of JSON (so --watch gives JSON
// lines).
func (s *Status) WriteJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(s)
}

// Colours, for a terminal that wants them.
const (
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	reset  = "\x1b[0m"
)

type cell struct {
	text, color string
}

// WriteText writes the table, at most Width columns wide (long names are
// shortened in the middle with "…"), then the problems and the VIPs. color adds ANSI
// colours: only for a terminal, and never when NO_COLOR is set (the
// caller decides).
func (s *Status) WriteText(w io.Writer, color bool) error {
	head := []string{"SERVICE", "BACKEND", "ADDRESS", "API", "VERSION", "INPUT", "EVENTS/S", "LOAD", "DRAINED", "IPVS"}
	rows := make([][]cell, 0, len(s.Rows))
	for _, r := range s.Rows {
		api := cell{r.API, green}
		if r.API != APIUp {
			api.color = red
		}
		in := cell{r.InputState, green}
		switch r.InputState {
		case "":
			in = cell{"-", ""}
		case InputPresent:
			in.color = ""
		case InputMissing, InputStopped:
			in.color = red
		}
		drained := cell{"no", ""}
		switch {
		case r.Drained:
			drained = cell{"yes", yellow}
		case r.DrainError != "":
			drained = cell{"unreadable", red}
		}
		ipvs := cell{r.IPVS.String(), ""}
		switch r.IPVS.State {
		case IPVSPresent:
			ipvs.color = green
			if *r.IPVS.Weight == 0 {
				ipvs.color = yellow
			}
		case IPVSAbsent, IPVSNoService:
			ipvs.color = red
		}
		rows = append(rows, []cell{
			{r.Service, ""}, {r.Backend, ""}, {r.Address.String(), ""}, api, {orDash(r.Version), ""}, in,
			{rate(r.EventsPerSec), ""}, {load(r.Load), ""}, drained, ipvs,
		})
	}
	widths := make([]int, len(head))
	for i, h := range head {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
		}
	}
	fit(widths, []int{0, 1, 2}, Width)
	var b strings.Builder
	line := func(cells []cell) {
		var l strings.Builder
		for i, c := range cells {
			text := shorten(c.text, widths[i])
			pad := widths[i] - utf8.RuneCountInString(text)
			if color && c.color != "" {
				text = c.color + text + reset
			}
			l.WriteString(text)
			if i < len(cells)-1 {
				l.WriteString(strings.Repeat(" ", pad+2))
			}
		}
		b.WriteString(strings.TrimRight(l.String(), " ") + "\n")
	}
	hc := make([]cell, len(head))
	for i, h := range head {
		hc[i] = cell{h, ""}
	}
	line(hc)
	for _, r := range rows {
		line(r)
	}
	for _, r := range s.Rows {
		if r.Problem != "" {
			fmt.Fprintf(&b, "%s on %s: %s\n", r.Service, r.Backend, r.Problem)
		}
		if r.Drained && r.DrainReason != "" {
			fmt.Fprintf(&b, "%s on %s: %s\n", r.Service, r.Backend, r.DrainReason)
		}
		if r.DrainError != "" {
			fmt.Fprintf(&b, "%s on %s: %s (so not drained: hala check and hala director skip it too)\n", r.Service, r.Backend, r.DrainError)
		}
	}
	for _, svc := range s.services() {
		if svc.serving == 0 {
			fmt.Fprintf(&b, "%s: no healthy backend (%d listed)\n", svc.name, svc.rows)
		}
	}
	if s.IPVSNote != "" {
		b.WriteString(s.IPVSNote + "\n")
	}
	b.WriteString("\n")
	if s.Node != "" {
		fmt.Fprintf(&b, "VIPs on director %s:\n", s.Node)
	} else {
		b.WriteString("VIPs:\n")
	}
	for _, v := range s.VIPs {
		c := cell{v.State, ""}
		if v.Held {
			c.color = green
		}
		text := c.text
		if color && c.color != "" {
			text = c.color + text + reset
		}
		fmt.Fprintf(&b, "  %s  %s dev %s  %s\n", v.Name, v.Address, v.Interface, text)
	}
	if s.VIPNote != "" {
		b.WriteString("  " + s.VIPNote + "\n")
	}
	s.writeBGP(&b, color)
	_, err := io.WriteString(w, b.String())
	return err
}

// fit shrinks the columns in order (widest first) until the table with its
// two-space gaps is at most width wide; a column keeps at least 6 runes.
func fit(widths, shrinkable []int, width int) {
	total := func() int {
		n := 2 * (len(widths) - 1)
		for _, w := range widths {
			n += w
		}
		return n
	}
	for total() > width {
		widest := -1
		for _, i := range shrinkable {
			if widths[i] > 6 && (widest < 0 || widths[i] > widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			return
		}
		widths[widest]--
	}
}

// shorten cuts s to n runes in the middle, keeping its start and its
// end: names that share a prefix (syslog-udp-frontend-a, …-b) mostly
// differ at the end.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	tail := (n - 1) / 2
	return string(r[:n-1-tail]) + "…" + string(r[len(r)-tail:])
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// rate has one decimal, however large.
func rate(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', 1, 64)
}

func load(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', 0, 64) + "%"
}
