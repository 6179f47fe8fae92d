package agent

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hala-lb/hala/pkg/inventory"
)

func testAgent(t *testing.T, token string) (*Agent, *httptest.Server) {
	t.Helper()
	inv, err := inventory.Parse("x.toml", []byte(inputsTOML))
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{baseNow}
	a, err := New(Config{Inventory: inv, Node: "stash2", Token: token, Ping: 10 * time.Millisecond, Now: c.now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return a, srv
}

func TestStreamStateThenChanges(t *testing.T) {
	a, srv := testAgent(t, "s3cret")
	beats := Socket{Proto: TCP, State: tcpListen, Addr: netip4("0.0.0.0"), Port: 5044, Cookie: 2, HasMem: true}
	a.applyDump([]Socket{udpSock(1, "0.0.0.0", 0, 0), beats}, 0, true)

	if _, err := Dial(context.Background(), srv.Client(), srv.URL, "wrong", time.Minute); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong token: err = %v, want 401", err)
	}
	s, err := Dial(context.Background(), srv.Client(), srv.URL, "s3cret", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ev, err := s.Next()
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != EventState || ev.Node != "stash2" || len(ev.Inputs) != 2 || !ev.Inputs[0].Up || !ev.Inputs[1].Up {
		t.Fatalf("first event %+v, want the state of both inputs, up", ev)
	}
	// The stream is open before the change is made: the change arrives,
	// after pings the client skips.
	a.destroyed([]Socket{{Proto: UDP, Cookie: 1}})
	ev, err = s.Next()
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != EventChange || len(ev.Inputs) != 1 || ev.Inputs[0].Key() != "udp/5514" || ev.Inputs[0].Up || ev.Inputs[0].Reason != ReasonClosed {
		t.Fatalf("change %+v, want udp/5514 closed", ev)
	}
}

// Before its first dump the agent knows nothing: it serves no stream
// (whose "not bound" would take every backend out), and says why.
func TestNoStreamBeforeFirstDump(t *testing.T) {
	a, srv := testAgent(t, "")
	a.noteDumpError(errors.New("sock_diag dump udp: no such file or directory"), new(string))
	if _, err := Dial(context.Background(), srv.Client(), srv.URL, "", time.Minute); err == nil ||
		!strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "no socket dump yet: sock_diag dump udp") {
		t.Fatalf("before the first dump: err = %v, want 503 with the dump's error", err)
	}
	a.applyDump(nil, 0, true)
	s, err := Dial(context.Background(), srv.Client(), srv.URL, "", time.Minute)
	if err != nil {
		t.Fatalf("after the first dump: %v", err)
	}
	s.Close()
}

func TestStreamBreaksWhenSilent(t *testing.T) {
	// A server that answers and then says nothing (an agent wedged, a
	// path black-holed): the director's end gives up.
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		_, _ = io.WriteString(w, `{"type":"state","node":"stash2","inputs":[]}`+"\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	s, err := Dial(context.Background(), srv.Client(), srv.URL, "", 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ev, err := s.Next(); err != nil || ev.Type != EventState {
		t.Fatalf("first: %+v, %v", ev, err)
	}
	if _, err := s.Next(); err == nil || !strings.Contains(err.Error(), "nothing received for 50ms") {
		t.Fatalf("silent stream: err = %v", err)
	}
}

func TestMetrics(t *testing.T) {
	a, srv := testAgent(t, "")
	a.applyDump([]Socket{udpSock(1, "0.0.0.0", 7, 512)}, 0, true)
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`hala_receiver_socket_up{backend="stash2",service="syslog-udp"} 1`,
		`hala_receiver_socket_up{backend="stash2",service="beats-dr"} 0`,
		`hala_receiver_drops_total{backend="stash2",service="syslog-udp"} 7`,
		`hala_receiver_queue_bytes{backend="stash2",service="syslog-udp"} 512`,
		`hala_receiver_noports_total{backend="stash2",service="syslog-udp"} 0`,
		`hala_agent_streams 0`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Prometheus' parser refuses /metrics: %v\n%s", err, b)
	}
	if h := fams["hala_agent_dump_duration_seconds"]; h == nil || h.GetType().String() != "HISTOGRAM" {
		t.Errorf("hala_agent_dump_duration_seconds is not a histogram: %v", h)
	}
}
