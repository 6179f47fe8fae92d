package tcpstream

import (
	"bufio"
	"net"
	"sync"
	"testing"
	"time"
)

// receiver counts the lines of each stream, closes a connection once it
// has read its end, and resets the first connection of any stream named in
// resetID as soon as it has read one of its lines.
type receiver struct {
	ln      net.Listener
	resetID string

	mu    sync.Mutex
	lines map[string]int
	seen  chan string // a stream's first line
}

func newReceiver(t *testing.T, resetID string) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{ln: ln, resetID: resetID, lines: map[string]int{}, seen: make(chan string, 100)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c.(*net.TCPConn))
		}
	}()
	return r
}

func (r *receiver) serve(c *net.TCPConn) {
	defer c.Close()
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		id, _, ok := ParseLine(sc.Text())
		if !ok {
			continue
		}
		r.mu.Lock()
		r.lines[id]++
		first := r.lines[id] == 1
		r.mu.Unlock()
		if first {
			r.seen <- id
		}
		if id == r.resetID {
			_ = c.SetLinger(0) // close with a reset
			return
		}
	}
}

// open starts n streams a-0… to r and waits until r has a line of each.
func (r *receiver) open(t *testing.T, n int) *Set {
	t.Helper()
	s := NewSet(time.Millisecond)
	if err := s.Open(n, "a", r.dial); err != nil {
		t.Fatal(err)
	}
	for range n {
		<-r.seen
	}
	return s
}

func (r *receiver) dial() (net.Conn, error) { return net.Dial("tcp", r.ln.Addr().String()) }

func (r *receiver) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lines[id]
}

func TestLineRoundTrip(t *testing.T) {
	id, seq, ok := ParseLine(Line("mh-3", 42))
	if !ok || id != "mh-3" || seq != 42 {
		t.Fatalf("ParseLine(Line(mh-3, 42)) = %q, %d, %v", id, seq, ok)
	}
	if _, _, ok := ParseLine("<13>hala-e2e: seq=00000001"); ok {
		t.Fatal("ParseLine read a line it did not write")
	}
}

// Streams whose receiver reads everything end without an error, and the
// receiver has every line each one counts as sent.
func TestCleanStreamsDeliverEveryLine(t *testing.T) {
	r := newReceiver(t, "")
	s := r.open(t, 3)
	s.Close(30 * time.Second)
	for _, st := range s.Streams() {
		if st.Reset() {
			t.Errorf("%s: %v", st.ID, st.Err)
		}
		if st.Sent == 0 || r.count(st.ID) != st.Sent {
			t.Errorf("%s: sent %d, received %d", st.ID, st.Sent, r.count(st.ID))
		}
	}
}

// A connection the receiver resets is counted as reset, the others are
// not, and Reopen replaces only it, once.
func TestResetIsCountedAndReopened(t *testing.T) {
	r := newReceiver(t, "a-1")
	s := r.open(t, 3)
	// The sender sees the reset on a later write.
	for !s.Streams()[1].Reset() {
		time.Sleep(time.Millisecond)
	}
	for _, want := range []int{1, 0} {
		n, err := s.Reopen("b", r.dial)
		if err != nil || n != want {
			t.Fatalf("Reopen = %d, %v; want %d", n, err, want)
		}
	}
	<-r.seen // b-3's first line
	s.Close(30 * time.Second)
	got := map[string]bool{}
	for _, st := range s.Streams() {
		got[st.ID] = st.Reset()
	}
	want := map[string]bool{"a-0": false, "a-1": true, "a-2": false, "b-3": false}
	for id, reset := range want {
		if r, ok := got[id]; !ok || r != reset {
			t.Errorf("%s: reset %v (present %v), want %v; all: %v", id, r, ok, reset, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("streams %v, want %v", got, want)
	}
}
