package logstash

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// /_node/pipelines gives each pipeline's own workers, read off Elastic's
// documented example and a 7.0 capture, over a real HTTP server.
func TestNodePipelines(t *testing.T) {
	srv := newAPIServer(t, map[string][]byte{"/_node/pipelines": readTestdata(t, "node_pipelines-8.x-docs.json")})
	got, err := clientFor(t, srv.URL, Config{}).NodePipelines(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got["test"] != (Settings{Workers: 1, BatchSize: 1, BatchDelayMillis: 5}) || got["test2"] != (Settings{Workers: 8, BatchSize: 125, BatchDelayMillis: 5}) || len(got) != 2 {
		t.Errorf("settings %+v", got)
	}
	s, err := ParseNodePipelines(bytes.NewReader(readTestdata(t, "node_pipelines-7.0-metricbeat.json")), 0)
	if err != nil || len(s) != 2 || s["test"].Workers == 0 {
		t.Errorf("7.0: %+v, %v", s, err)
	}
	// A 5.x node answers 404.
	none := newAPIServer(t, nil)
	if _, err := clientFor(t, none.URL, Config{}).NodePipelines(context.Background()); !errors.Is(err, ErrNoNodePipelines) {
		t.Errorf("404: %v, want ErrNoNodePipelines", err)
	}
	for _, body := range []string{`{"jvm":{}}`, `[1]`, `{"pipelines":`} {
		if _, err := ParseNodePipelines(bytes.NewReader([]byte(body)), 0); !errors.Is(err, ErrNotNodePipelines) {
			t.Errorf("%s: %v, want ErrNotNodePipelines", body, err)
		}
	}
}
