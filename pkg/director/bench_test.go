package director

import (
	"context"
	"net/url"
	"strconv"
	"testing"

	"github.com/hala-lb/hala/pkg/logstash"
)

// BenchmarkCheckRound is one prober round (one API request on a kept-alive
// connection, three inputs judged) against a real HTTP server on loopback;
// scripts/bench-director measures the whole loop over time.
func BenchmarkCheckRound(b *testing.B) {
	sp, err := newSpec(parse(b, clusterSource("", "")), "")
	if err != nil {
		b.Fatal(err)
	}
	a := newAPI(b)
	u, _ := url.Parse(a.srv.URL)
	port, _ := strconv.Atoi(u.Port())
	src, err := logstash.New(logstash.Config{Host: u.Hostname(), Port: port, KeepAlive: true})
	if err != nil {
		b.Fatal(err)
	}
	p := &prober{b: sp.backends["l1"], src: src, stateDir: b.TempDir(), clock: wallClock{}}
	b.ReportAllocs()
	for b.Loop() {
		r := p.once(context.Background())
		if !r.verdicts[checkKey{Input: "udp-5514"}].Healthy {
			b.Fatal("unhealthy")
		}
	}
}
