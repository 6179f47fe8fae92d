package logstash

import (
	"bytes"
	"math"
	"testing"
)

// ParseNodeStatsPlugins keeps filters, outputs, settings, queue sizes, the
// dead letter queue and the last reload error, read off real bodies.
func TestParseNodeStatsPlugins(t *testing.T) {
	s, err := ParseNodeStatsPlugins(bytes.NewReader(readTestdata(t, "node_stats-8.15-kuskoman.json")), DefaultMaxBody)
	if err != nil {
		t.Fatal(err)
	}
	if s.Settings != (Settings{Workers: 10, BatchSize: 125, BatchDelayMillis: 50}) {
		t.Errorf("node settings %+v", s.Settings)
	}
	main := s.Pipeline("main")
	if len(main.Filters) != 6 || len(main.Outputs) != 1 {
		t.Fatalf("%d filters, %d outputs; want 6 and 1", len(main.Filters), len(main.Outputs))
	}
	ruby := main.Filters[1]
	if ruby.Name != "ruby" || ruby.Events == nil || ruby.Events.DurationMillis != 489610 || ruby.Events.In != 2500 || ruby.Events.Out != 1250 {
		t.Errorf("ruby filter %+v %+v", ruby, ruby.Events)
	}
	if v := ruby.Flow["worker_millis_per_event"]["current"]; !math.IsInf(v, 1) {
		t.Errorf(`ruby worker_millis_per_event current = %v, want +Inf from "Infinity"`, v)
	}
	if v := ruby.Flow["worker_utilization"]["lifetime"]; v != 97.74 {
		t.Errorf("ruby worker_utilization lifetime = %v", v)
	}
	if out := main.Outputs[0]; out.Name != "elasticsearch" || out.Events.DurationMillis != 4887 {
		t.Errorf("output %+v", out)
	}
	if main.DeadLetterQueue == nil || *main.DeadLetterQueue != (DeadLetterQueue{SizeBytes: 1, MaxSizeBytes: 1073741824}) {
		t.Errorf("dead letter queue %+v", main.DeadLetterQueue)
	}
	mon := s.Pipeline(".monitoring-logstash")
	if mon.Reloads.Failures != 1 || mon.Reloads.LastError != "No configuration found in the configured sources." {
		t.Errorf("reloads %+v", mon.Reloads)
	}

	s, err = ParseNodeStatsPlugins(bytes.NewReader(readTestdata(t, "node_stats_pipelines-9.x-openapi.json")), DefaultMaxBody)
	if err != nil {
		t.Fatal(err)
	}
	hb := s.Pipeline("heartbeat-ruby-stdout")
	if hb.Settings != (Settings{Workers: 12, BatchSize: 125, BatchDelayMillis: 50}) {
		t.Errorf("pipeline settings %+v", hb.Settings)
	}
	if hb.Queue.Type != "persisted" || hb.Queue.SizeBytes != 11341 || hb.Queue.MaxSizeBytes != 1073741824 {
		t.Errorf("persisted queue %+v", hb.Queue)
	}

	// 5.x keeps the queue's limit under "capacity".
	s, err = ParseNodeStatsPlugins(bytes.NewReader(readTestdata(t, "node_stats_pipeline-5.3-telegraf.json")), DefaultMaxBody)
	if err != nil {
		t.Fatal(err)
	}
	if q := s.Pipelines[0].Queue; q.MaxSizeBytes != 8589934592 || q.EventsCount != 208 {
		t.Errorf("5.x queue %+v", q)
	}
	if s.Settings != (Settings{}) {
		t.Errorf("5.x .pipeline holds stats, not settings: %+v", s.Settings)
	}
}

// hala check's parse skips everything diagnose alone needs.
func TestParseNodeStatsSkipsPlugins(t *testing.T) {
	s, err := ParseNodeStats(bytes.NewReader(readTestdata(t, "node_stats-8.15-kuskoman.json")), DefaultMaxBody)
	if err != nil {
		t.Fatal(err)
	}
	main := s.Pipeline("main")
	if main.Filters != nil || main.Outputs != nil || main.DeadLetterQueue != nil || s.Settings != (Settings{}) || main.Queue.MaxSizeBytes != 0 {
		t.Errorf("the check's parse kept plugin detail: %+v", main)
	}
	if len(main.Inputs) != 2 {
		t.Errorf("inputs %v", main.InputIDs())
	}
}

// An elasticsearch output's own counters, read off the 8.8 and 7.4
// captures: error counters where the version reports them.
func TestOutputCounters(t *testing.T) {
	s, err := ParseNodeStatsPlugins(bytes.NewReader(readTestdata(t, "node_stats-8.8-kuskoman.json")), DefaultMaxBody)
	if err != nil {
		t.Fatal(err)
	}
	es := s.Pipeline("main").Outputs[0]
	want := map[string]int64{"documents.successes": 1337, "documents.non_retryable_failures": 87, "bulk_requests.with_errors": 87, "bulk_requests.responses.200": 87}
	if len(es.Counters) != len(want) {
		t.Errorf("counters %v, want %v", es.Counters, want)
	}
	for k, v := range want {
		if es.Counters[k] != v {
			t.Errorf("%s = %d, want %d", k, es.Counters[k], v)
		}
	}
	s, _ = ParseNodeStatsPlugins(bytes.NewReader(readTestdata(t, "node_stats_pipelines-7.4-telegraf.json")), DefaultMaxBody)
	if c := s.Pipeline("infra").Outputs[1].Counters; c["bulk_requests.successes"] != 2870 || c["documents.successes"] != 2665549 {
		t.Errorf("7.4 counters %v", c)
	}
}
