package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hala-lb/hala/pkg/internal/e2e/standin"
	"github.com/hala-lb/hala/pkg/internal/testutil/tcpstream"
)

// loopNode starts a stand-in on loopback with one UDP input.
func loopNode(t *testing.T, name string) (*standin.Server, string, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), name+".json")
	s, err := standin.New(standin.Config{
		Name: name, API: "127.0.0.1:0", Output: out,
		Inputs: []standin.Input{{ID: "udp-5514", Proto: "udp", Addr: "127.0.0.1:0"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, s.InputAddr("udp-5514"), out
}

func newSender(t *testing.T, addr string, rate int) *Sender {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	dst, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return NewSender(c, dst, rate)
}

func TestMessageRoundTrip(t *testing.T) {
	for _, seq := range []int{0, 7, 12345678} {
		if got, ok := MessageSeq(Message(seq)); !ok || got != seq {
			t.Errorf("MessageSeq(Message(%d)) = %d, %v", seq, got, ok)
		}
	}
	if _, ok := MessageSeq("testing...\n"); ok {
		t.Error("a foreign message parsed as numbered")
	}
}

func TestBurstKeepsRateAndEveryMessageArrives(t *testing.T) {
	srv, addr, out := loopNode(t, "stash1")
	s := newSender(t, addr, 1000)
	start := time.Now()
	span := s.Burst(200)
	elapsed := time.Since(start)
	if span.Len() != 200 || span.First != 0 {
		t.Fatalf("span = %v, want 200 messages from #0", span)
	}
	// 200 messages at 1000/s: the last leaves 199 ms after the first.
	if elapsed < 199*time.Millisecond {
		t.Errorf("200 messages at 1000/s took %v: faster than the rate", elapsed)
	}
	srv.Close() // reads what is queued and writes it out: no waiting on the clock
	got, err := ReadReceived(map[string]string{"stash1": out, "stash2": filepath.Join(t.TempDir(), "none.json")})
	if err != nil {
		t.Fatal(err)
	}
	tl := Count(s, span, got)
	if tl.Sent != 200 || tl.Received != 200 || tl.Lost != 0 || tl.PerServer["stash1"] != 200 {
		t.Errorf("tally = %+v, want 200 sent and received by stash1", tl)
	}
	if tl.Split("stash1", "stash2") != "stash1 200 / stash2 0" {
		t.Errorf("split = %q", tl.Split("stash1", "stash2"))
	}
	next := s.Burst(10)
	if next.First != 200 || next.End != 210 {
		t.Errorf("second burst span = %v, want #200-#209", next)
	}
}

func TestLossesInsideAndOutsideWindows(t *testing.T) {
	srv, addr, out := loopNode(t, "stash1")
	s := newSender(t, addr, 500)
	before := s.Burst(50)
	if err := srv.StopInput("udp-5514"); err != nil {
		t.Fatal(err)
	}
	w := Window{From: time.Now()}
	lost := s.Burst(50)
	w.To = time.Now()
	got, err := ReadReceived(map[string]string{"stash1": out})
	if err != nil {
		t.Fatal(err)
	}
	if tl := Count(s, before, got, w); tl.Lost != 0 {
		t.Errorf("before the fault: %+v, want nothing lost", tl)
	}
	in := Count(s, lost, got, w)
	if in.Lost != 50 || in.LostInWindow != 50 || len(in.LostOutside) != 0 {
		t.Errorf("inside the window: %+v, want 50 lost, all inside", in)
	}
	outside := Count(s, lost, got)
	if len(outside.LostOutside) != 50 || outside.LostOutside[0] != 50 {
		t.Errorf("no window: LostOutside = %v, want #50-#99", outside.LostOutside)
	}
	sum := in.Add(Count(s, before, got, w))
	if sum.Sent != 100 || sum.Received != 50 || sum.PerServer["stash1"] != 50 {
		t.Errorf("sum = %+v", sum)
	}
}

func TestDuplicatesAreCounted(t *testing.T) {
	dir := t.TempDir()
	line := `{"host":"192.168.1.111","@timestamp":"2018-11-04T17:34:37.065Z","message":"` +
		strings.TrimSuffix(Message(0), "\n") + `\n","@version":"1"}` + "\n"
	for _, n := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(line+`{"message":"testing...\n"}`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadReceived(map[string]string{"stash1": filepath.Join(dir, "a"), "stash2": filepath.Join(dir, "b")})
	if err != nil {
		t.Fatal(err)
	}
	s := &Sender{sent: []sentMsg{{at: time.Now()}}}
	if tl := Count(s, Span{0, 1}, got); tl.Duplicates != 1 || tl.Received != 1 {
		t.Errorf("tally = %+v, want 1 received, 1 duplicate", tl)
	}
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("{not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadReceived(map[string]string{"stash1": filepath.Join(dir, "a")}); err == nil {
		t.Error("a corrupt line was not reported")
	}
}

func TestTableMarksFailures(t *testing.T) {
	tab := Table{
		{Scenario: "1 steady state", Sent: 1000, Received: 1000, Bound: "lost = 0"},
		{Scenario: "2 input stopped", Time: Seconds(6240 * time.Millisecond), Sent: 10, Received: 9, Lost: 1, Bound: "detect ≤ 8.0s"},
	}
	tab[1].Check(false, "detected after %s", "9.0s")
	if tab.Pass() {
		t.Fatal("a table with a failed row passes")
	}
	text := tab.String()
	for _, want := range []string{"scenario", "detection/failover", "1 steady state", "PASS", "6.2s", "FAIL 2 input stopped: detected after 9.0s"} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	lines := strings.Split(text, "\n")
	if !strings.HasSuffix(strings.TrimSpace(lines[2]), "FAIL") {
		t.Errorf("row 2 not marked FAIL: %q", lines[2])
	}
}

func TestWithinSelectsBySendTime(t *testing.T) {
	base := time.Now()
	s := &Sender{}
	for i := range 10 {
		s.sent = append(s.sent, sentMsg{at: base.Add(time.Duration(i) * time.Second)})
	}
	all := Span{0, 10}
	for _, tc := range []struct {
		from, to int
		want     Span
	}{
		{0, 9, Span{0, 10}},
		{2, 4, Span{2, 5}},
		{-5, -1, Span{10, 10}},
		{20, 30, Span{10, 10}},
	} {
		got := s.Within(all, base.Add(time.Duration(tc.from)*time.Second), base.Add(time.Duration(tc.to)*time.Second))
		if got.Len() != tc.want.Len() || (got.Len() > 0 && got != tc.want) {
			t.Errorf("Within(%ds, %ds) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestSlowShareBound(t *testing.T) {
	// The idle node's weight rests at least at the formula's value for 5%
	// load, less the hysteresis.
	other, _ := restingWeights(loadTarget(0.05))
	if other < 218.5 || other > 219.5 {
		t.Errorf("idle node's lowest resting weight = %.1f, want 240.85/1.1 = 219", other)
	}
	// The suite's case: 10ms per message at 100 msg/s.
	if got := SlowShareBound(100, 10*time.Millisecond, other); got < 0.425 || got > 0.435 {
		t.Errorf("bound for 10ms per message = %.4f, want 0.43 (root of 270s² − 770s + 281)", got)
	}
	// A node that does no work can claim no reduction: the bound is above
	// the even split.
	if got := SlowShareBound(100, 0, other); got <= 0.5 {
		t.Errorf("bound without work = %.3f, want above 0.5", got)
	}
	// More work per message, smaller bound; never under the floor.
	prev := 1.0
	for _, ms := range []int{5, 10, 20, 50} {
		got := SlowShareBound(100, time.Duration(ms)*time.Millisecond, other)
		if got >= prev || got < FloorShare() {
			t.Errorf("bound for %dms = %.3f (previous %.3f, floor %.3f)", ms, got, prev, FloorShare())
		}
		prev = got
	}
	if f := FloorShare(); f < 0.038 || f > 0.039 {
		t.Errorf("floor share = %.4f, want 10/263", f)
	}
}

// ReadStreams finds each TCP stream's lines in the stand-in that received
// them, and nothing of the numbered UDP messages.
func TestReadStreams(t *testing.T) {
	files := map[string]string{}
	addrs := map[string]string{}
	var servers []*standin.Server
	for _, name := range []string{"stash1", "stash2"} {
		files[name] = filepath.Join(t.TempDir(), name+".json")
		s, err := standin.New(standin.Config{Name: name, API: "127.0.0.1:0", Output: files[name],
			Inputs: []standin.Input{{ID: "tcp-5140", Proto: "tcp", Addr: "127.0.0.1:0"}, {ID: "udp-5514", Proto: "udp", Addr: "127.0.0.1:0"}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		servers = append(servers, s)
		addrs[name] = s.InputAddr("tcp-5140")
	}
	newSender(t, servers[0].InputAddr("udp-5514"), 1000).Burst(20)
	set := tcpstream.NewSet(time.Millisecond)
	for name, n := range map[string]int{"stash1": 2, "stash2": 1} {
		if err := set.Open(n, name, func() (net.Conn, error) { return net.Dial("tcp", addrs[name]) }); err != nil {
			t.Fatal(err)
		}
	}
	for sent := false; !sent; {
		sent = true
		for _, st := range set.Streams() {
			sent = sent && st.Sent > 0
		}
		time.Sleep(time.Millisecond)
	}
	set.Close(30 * time.Second)
	for _, s := range servers {
		s.Close() // writes what it has queued
	}
	got, err := ReadStreams(files)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d streams read, want 3: %v", len(got), got)
	}
	for _, st := range set.Streams() {
		r := got[st.ID]
		if st.Reset() || st.Sent == 0 || r.Between(0, st.Sent) != st.Sent || len(r.Seqs) != st.Sent {
			t.Errorf("%s: sent %d (err %v), received %d of them, %d in all", st.ID, st.Sent, st.Err, r.Between(0, st.Sent), len(r.Seqs))
		}
		if want, _, _ := strings.Cut(st.ID, "-"); r.Server() != want || r.PerServer[want] != st.Sent {
			t.Errorf("%s: on %q (%v), want only %s", st.ID, r.Server(), r.PerServer, want)
		}
	}
}

func TestBound(t *testing.T) {
	for d, want := range map[time.Duration]string{50 * time.Millisecond: "50ms", 250 * time.Millisecond: "250ms", 800 * time.Millisecond: "0.8s", 2 * time.Second: "2.0s", 1500 * time.Millisecond: "1.5s"} {
		if got := Bound(d); got != want {
			t.Errorf("Bound(%s) = %q, want %q", d, got, want)
		}
	}
}
