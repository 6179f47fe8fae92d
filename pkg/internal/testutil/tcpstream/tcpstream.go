// Package tcpstream holds long-lived TCP connections that each send a
// numbered line at a fixed interval, as Beats and TCP syslog senders do,
// and records which of them ended in an error (a reset). The TCP tests of
// pkg/reconcile and the BGP half of the end-to-end suite count with it
// what a director change does to such senders.
//
// A stream ends cleanly only when the receiver has read everything: Close
// half-closes each connection and reads until the receiver closes its side
// (which it does once it has read the last line); a reset shows as an
// error on a write or on that read.
//
// It is test code and imports no other hala package.
package tcpstream

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// Line returns line seq (from 1) of stream id, newline included.
func Line(id string, seq int) string { return fmt.Sprintf("hala-stream: %s %d\n", id, seq) }

var lineRE = regexp.MustCompile(`hala-stream: (\S+) (\d+)`)

// ParseLine reads a line Line wrote (with or without its newline).
func ParseLine(s string) (id string, seq int, ok bool) {
	m := lineRE.FindStringSubmatch(s)
	if m == nil {
		return "", 0, false
	}
	n, err := strconv.Atoi(m[2])
	return m[1], n, err == nil
}

// Stream is what one connection did, as a snapshot.
type Stream struct {
	// ID names the stream in its lines ("mh-7").
	ID string
	// Local is the connection's local address (its flow's source).
	Local net.Addr
	// Sent counts the lines written without an error.
	Sent int
	// Err is the error the stream ended with (nil: none yet, or a clean
	// end), and ErrAt when it was seen.
	Err   error
	ErrAt time.Time
}

// Reset reports whether the stream ended in an error.
func (s Stream) Reset() bool { return s.Err != nil }

type stream struct {
	Stream
	conn     net.Conn
	done     chan struct{} // closed when its sender has returned
	replaced bool          // Reopen has replaced it
}

// Set is a group of streams sending every interval. Its methods are safe
// for concurrent use.
type Set struct {
	interval time.Duration

	mu      sync.Mutex
	streams []*stream
	stop    chan struct{}
	stopped bool
}

// NewSet returns an empty set whose streams send a line every interval.
func NewSet(interval time.Duration) *Set {
	return &Set{interval: interval, stop: make(chan struct{})}
}

// Open dials n connections with dial, names them prefix-k (k counting on
// from the set's earlier streams of any prefix), and starts each sending.
// Connections dialed before an error keep sending.
func (s *Set) Open(n int, prefix string, dial func() (net.Conn, error)) error {
	for range n {
		c, err := dial()
		if err != nil {
			return fmt.Errorf("stream %d of %d: %w", len(s.snapshot())+1, n, err)
		}
		s.start(prefix, c)
	}
	return nil
}

func (s *Set) start(prefix string, c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &stream{Stream: Stream{ID: fmt.Sprintf("%s-%d", prefix, len(s.streams)), Local: c.LocalAddr()}, conn: c, done: make(chan struct{})}
	s.streams = append(s.streams, st)
	go s.send(st)
}

// send writes a line every interval until the set stops or a write fails.
// It starts after a random part of the interval: senders are not in step,
// so the streams' packets do not arrive in the order they were opened.
func (s *Set) send(st *stream) {
	defer close(st.done)
	select {
	case <-s.stop:
		return
	case <-time.After(rand.N(s.interval)):
	}
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for seq := 1; ; seq++ {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		// A stalled write (the path lost for longer than the retransmits
		// cover) ends the stream too: a sender would give up.
		_ = st.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(st.conn, Line(st.ID, seq)); err != nil {
			s.fail(st, err)
			return
		}
		s.mu.Lock()
		st.Sent = seq
		s.mu.Unlock()
	}
}

func (s *Set) fail(st *stream, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.Err == nil {
		st.Err, st.ErrAt = err, time.Now()
	}
}

// Streams returns a snapshot of every stream, in the order opened.
func (s *Set) Streams() []Stream { return s.snapshot() }

func (s *Set) snapshot() []Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Stream, len(s.streams))
	for i, st := range s.streams {
		out[i] = st.Stream
	}
	return out
}

// Reopen replaces every stream that ended in an error with a new one
// dialed with dial (named prefix-k), as a sender reconnects, and returns
// how many it opened.
func (s *Set) Reopen(prefix string, dial func() (net.Conn, error)) (int, error) {
	s.mu.Lock()
	var failed []*stream
	for _, st := range s.streams {
		if st.Err != nil && !st.replaced {
			st.replaced = true
			failed = append(failed, st)
		}
	}
	s.mu.Unlock()
	for i := range failed {
		c, err := dial()
		if err != nil {
			return i, fmt.Errorf("reopen %s: %w", failed[i].ID, err)
		}
		s.start(prefix, c)
	}
	return len(failed), nil
}

// Close stops every sender, half-closes each connection and waits up to
// timeout in all for the receivers to close theirs: a stream whose read
// ends in anything but EOF is reset (the receiver never read its end).
func (s *Set) Close(timeout time.Duration) {
	s.mu.Lock()
	if !s.stopped {
		s.stopped = true
		close(s.stop)
	}
	streams := append([]*stream(nil), s.streams...)
	s.mu.Unlock()
	deadline := time.Now().Add(timeout)
	var wg sync.WaitGroup
	for _, st := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer st.conn.Close()
			<-st.done
			s.mu.Lock()
			failed := st.Err != nil
			s.mu.Unlock()
			if failed {
				return
			}
			if cw, ok := st.conn.(interface{ CloseWrite() error }); ok {
				if err := cw.CloseWrite(); err != nil {
					s.fail(st, fmt.Errorf("close write: %w", err))
					return
				}
			}
			_ = st.conn.SetReadDeadline(deadline)
			if _, err := io.Copy(io.Discard, st.conn); err != nil {
				s.fail(st, fmt.Errorf("read until the receiver closes: %w", err))
			}
		}()
	}
	wg.Wait()
}
