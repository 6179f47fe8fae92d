package inventory

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMonitoringDefaults(t *testing.T) {
	inv, err := Parse("x.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	want := Monitoring{Job: "hala", NodeJob: "node", BackendDownFor: Duration{time.Minute}, ServiceDownFor: Duration{30 * time.Second}, DirectorDownFor: Duration{time.Minute},
		VIPUnheldFor: Duration{30 * time.Second}, FlapTransitions: 4, FlapWindow: Duration{15 * time.Minute},
		DrainMaxAge: Duration{24 * time.Hour}, CheckSlowPercent: 80, ConntrackFullPercent: 80, VIPMinAnnouncers: 2, RunbookURL: DefaultRunbookURL}
	if inv.Monitoring != want {
		t.Errorf("defaults %+v, want %+v", inv.Monitoring, want)
	}
	inv, err = Parse("x.toml", []byte(base+"\n[monitoring]\njob = \"lb\"\nbackend_down_for = \"5m\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if inv.Monitoring.Job != "lb" || inv.Monitoring.BackendDownFor.Duration != 5*time.Minute || inv.Monitoring.NodeJob != "node" {
		t.Errorf("set keys not kept, or the others not defaulted: %+v", inv.Monitoring)
	}
}

func TestMonitoringInvalid(t *testing.T) {
	_, err := Parse("x.toml", []byte(base+`
[monitoring]
job = "a b"
backend_down_for = "1500ms"
flap_transitions = 1
check_slow_percent = 150
runbook_url = "ftp://x/y#z"
color = "red"
vip_min_announcers = -1
`))
	got := problems(t, err)
	for _, want := range []string{
		`x.toml:43:1: monitoring.job: "a b" is not a job name hala's rules can match (1-64 letters, digits, _ . : -)`,
		`x.toml:44:1: monitoring.backend_down_for: 1.5s: want whole seconds, at least 1s (the rules count in seconds)`,
		`x.toml:45:1: monitoring.flap_transitions: 1: at least 2 (one transition is a backend going down)`,
		`x.toml:46:1: monitoring.check_slow_percent: 150: out of range 1-100`,
		`x.toml:47:1: monitoring.runbook_url: "ftp://x/y#z": want an http(s) URL without a #fragment (each alert adds its own)`,
		`x.toml:48:1: monitoring.color: unknown key`,
		`x.toml:49:1: monitoring.vip_min_announcers: -1: at least 1`,
	} {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, want) }) {
			t.Errorf("missing problem %s\ngot:\n%q", want, got)
		}
	}
}

// TestVIPMinAnnouncersAtMostDirectors: a BGP cluster cannot announce a VIP
// from more directors than it has; such a threshold would always alert.
func TestVIPMinAnnouncersAtMostDirectors(t *testing.T) {
	if _, err := Parse("x.toml", []byte(bgpBase+"[monitoring]\nvip_min_announcers = 2\n")); err != nil {
		t.Fatalf("2 of 2 directors: %v", err)
	}
	_, err := Parse("x.toml", []byte(bgpBase+"[monitoring]\nvip_min_announcers = 3\n"))
	want := `x.toml:43:1: monitoring.vip_min_announcers: 3: more than the cluster's 2 directors (HalaVIPUnderAnnounced would always fire)`
	if got := problems(t, err); !slices.Contains(got, want) {
		t.Errorf("want %s, got %q", want, got)
	}
}
