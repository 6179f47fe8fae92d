package logstash

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzParseNodeStats holds the streaming parser to encoding/json: it must
// never panic, accept exactly the bodies encoding/json calls valid, and
// find the same pipelines and input ids. The committed corpus is in
// testdata/fuzz/FuzzParseNodeStats; the fixtures are added as seeds.
func FuzzParseNodeStats(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		f.Add(readTestdata(f, filepath.Base(file)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseNodeStats(bytes.NewReader(data), 1<<20)
		// diagnose's parse reads more of the body but must accept and
		// reject exactly the same bodies, with the same pipelines and inputs.
		full, ferr := ParseNodeStatsPlugins(bytes.NewReader(data), 1<<20)
		if (err == nil) != (ferr == nil) {
			t.Fatalf("ParseNodeStats error %v, ParseNodeStatsPlugins error %v", err, ferr)
		}
		if err == nil && len(full.Pipelines) != len(got.Pipelines) {
			t.Fatalf("ParseNodeStatsPlugins finds %d pipelines, ParseNodeStats %d", len(full.Pipelines), len(got.Pipelines))
		}
		ref, isStats := reference(data)
		valid := json.Valid(data)
		switch {
		case len(data) > 1<<20:
			if err == nil {
				t.Fatalf("accepted a %d-byte body over the 1 MiB limit", len(data))
			}
			return
		case err != nil && !errors.Is(err, ErrNotNodeStats):
			t.Fatalf("error %v is not ErrNotNodeStats", err)
		case !valid && err == nil:
			t.Fatalf("accepted invalid JSON %q", data)
		case valid && isStats && err != nil:
			t.Fatalf("rejected valid node stats: %v", err)
		case valid && !isStats && err == nil:
			t.Fatalf("accepted JSON without pipelines: %q", data)
		case err != nil:
			return
		}
		if len(got.Pipelines) != len(ref) {
			t.Fatalf("%d pipelines, encoding/json finds %d", len(got.Pipelines), len(ref))
		}
		for _, p := range got.Pipelines {
			want, ok := ref[p.ID]
			if !ok || !slices.Equal(p.InputIDs(), want) {
				t.Fatalf("pipeline %q inputs %q, encoding/json finds %q (present %v)", p.ID, p.InputIDs(), want, ok)
			}
		}
	})
}

// reference extracts pipeline id → input ids with encoding/json, by the
// rules ParseNodeStats documents: .pipelines when it is an object (with
// no pipelines, or one with events or plugins), else a 5.x .pipeline
// object that has events or plugins.
func reference(data []byte) (map[string][]string, bool) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var top any
	if d.Decode(&top) != nil {
		return nil, false
	}
	m, ok := top.(map[string]any)
	if !ok {
		return nil, false
	}
	inputs := func(p map[string]any) []string {
		ids := []string{}
		plugins, _ := p["plugins"].(map[string]any)
		list, _ := plugins["inputs"].([]any)
		for _, e := range list {
			in, ok := e.(map[string]any)
			if !ok {
				continue
			}
			id, _ := in["id"].(string)
			ids = append(ids, id)
		}
		return ids
	}
	out := map[string][]string{}
	if ps, ok := m["pipelines"].(map[string]any); ok {
		stats := false
		for id, v := range ps {
			if p, ok := v.(map[string]any); ok {
				out[id] = inputs(p)
				_, ev := p["events"]
				_, pl := p["plugins"]
				stats = stats || ev || pl
			}
		}
		// Pipelines with neither are a /_node or /_node/pipelines body.
		return out, stats || len(out) == 0
	}
	if p, ok := m["pipeline"].(map[string]any); ok {
		_, ev := p["events"]
		_, pl := p["plugins"]
		if ev || pl {
			id, _ := p["id"].(string)
			if id == "" {
				id = "main"
			}
			out[id] = inputs(p)
			return out, true
		}
	}
	return nil, false
}
