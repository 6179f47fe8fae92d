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
		DrainMaxAge: Duration{24 * time.Hour}, CheckSlowPercent: 80, ConntrackFullPercent: 80, RunbookURL: DefaultRunbookURL}
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
`))
	got := problems(t, err)
	for _, want := range []string{
		`x.toml:43:1: monitoring.job: "a b" is not a job name hala's rules can match (1-64 letters, digits, _ . : -)`,
		`x.toml:44:1: monitoring.backend_down_for: 1.5s: want whole seconds, at least 1s (the rules count in seconds)`,
		`x.toml:45:1: monitoring.flap_transitions: 1: at least 2 (one transition is a backend going down)`,
		`x.toml:46:1: monitoring.check_slow_percent: 150: out of range 1-100`,
		`x.toml:47:1: monitoring.runbook_url: "ftp://x/y#z": want an http(s) URL without a #fragment (each alert adds its own)`,
		`x.toml:48:1: monitoring.color: unknown key`,
	} {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, want) }) {
			t.Errorf("missing problem %s\ngot:\n%q", want, got)
		}
	}
}
