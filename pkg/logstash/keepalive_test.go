package logstash

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// countingServer is newAPIServer that also counts the TCP connections it
// accepts.
func countingServer(t *testing.T, bodies map[string][]byte) (*apiServer, *atomic.Int64) {
	var n atomic.Int64
	s := &apiServer{}
	s.Server = httptest.NewUnstartedServer(s.handler(bodies))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &n
}

func TestKeepAliveReusesOneConnection(t *testing.T) {
	body := readTestdata(t, "node_stats-8.15-kuskoman.json")
	for _, keep := range []bool{true, false} {
		s, conns := countingServer(t, map[string][]byte{"/_node/stats/pipelines": body})
		c := clientFor(t, s.URL, Config{KeepAlive: keep})
		for i := 0; i < 5; i++ {
			if _, err := c.NodeStats(ctx2s(t), ""); err != nil {
				t.Fatalf("keepAlive=%v request %d: %v", keep, i, err)
			}
		}
		want := int64(5)
		if keep {
			want = 1
		}
		if got := conns.Load(); got != want {
			t.Errorf("keepAlive=%v: 5 requests used %d connections, want %d", keep, got, want)
		}
		c.Close()
	}
}

func TestKeepAliveSurvivesServerClosingIdleConnection(t *testing.T) {
	body := readTestdata(t, "node_stats-8.15-kuskoman.json")
	s, conns := countingServer(t, map[string][]byte{"/_node/stats/pipelines": body})
	c := clientFor(t, s.URL, Config{KeepAlive: true})
	if _, err := c.NodeStats(ctx2s(t), ""); err != nil {
		t.Fatal(err)
	}
	s.CloseClientConnections() // the server's idle timeout, say
	if _, err := c.NodeStats(ctx2s(t), ""); err != nil {
		t.Fatalf("request after the server closed the idle connection: %v", err)
	}
	if got := conns.Load(); got != 2 {
		t.Errorf("%d connections, want 2 (the closed one, then a fresh one)", got)
	}
}
