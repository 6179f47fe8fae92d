package e2e

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// Span is a range of message sequence numbers, [First, End).
type Span struct {
	First, End int
}

// Len returns the number of messages in the span.
func (s Span) Len() int { return s.End - s.First }

// String returns the span as "#first-#last".
func (s Span) String() string {
	if s.Len() == 0 {
		return "none"
	}
	return fmt.Sprintf("#%d-#%d", s.First, s.End-1)
}

// Sender sends numbered syslog messages over UDP at a fixed rate and
// remembers when each one left. One burst or stream runs at a time.
type Sender struct {
	conn     net.PacketConn
	to       net.Addr
	interval time.Duration

	mu   sync.Mutex
	sent []sentMsg // index = sequence number
}

type sentMsg struct {
	at  time.Time
	err error
}

// NewSender returns a sender writing to dst through conn (an unconnected
// UDP socket, as syslog clients use: ICMP errors from a closed port never
// fail later writes) at rate messages per second.
func NewSender(conn net.PacketConn, dst net.Addr, rate int) *Sender {
	return &Sender{conn: conn, to: dst, interval: time.Second / time.Duration(rate)}
}

// Rate returns the messages per second the sender keeps.
func (s *Sender) Rate() int { return int(time.Second / s.interval) }

// Message returns the text of message seq; MessageSeq reads it back.
func Message(seq int) string {
	return fmt.Sprintf("<13>hala-e2e: seq=%08d\n", seq)
}

var seqRE = regexp.MustCompile(`hala-e2e: seq=(\d+)`)

// MessageSeq returns the sequence number in a message written by Message.
func MessageSeq(msg string) (int, bool) {
	m := seqRE.FindStringSubmatch(msg)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}

// send sends the next message and records its time.
func (s *Sender) send() {
	s.mu.Lock()
	seq := len(s.sent)
	s.sent = append(s.sent, sentMsg{})
	s.mu.Unlock()
	at := time.Now()
	_, err := s.conn.WriteTo([]byte(Message(seq)), s.to)
	s.mu.Lock()
	s.sent[seq] = sentMsg{at: at, err: err}
	s.mu.Unlock()
}

func (s *Sender) next() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

// Burst sends n messages at the sender's rate and returns their span.
func (s *Sender) Burst(n int) Span {
	st := s.Start()
	<-st.after(n)
	return st.Stop()
}

// Stream is a running background send loop.
type Stream struct {
	s     *Sender
	first int
	stop  chan struct{}
	done  chan struct{}
	limit int // stop by itself after this many (0 = never)
	full  chan struct{}
}

// Start begins sending at the sender's rate until Stop.
func (s *Sender) Start() *Stream {
	st := &Stream{s: s, first: s.next(), stop: make(chan struct{}), done: make(chan struct{}), full: make(chan struct{})}
	go st.run()
	return st
}

func (st *Stream) after(n int) <-chan struct{} {
	st.s.mu.Lock()
	st.limit = n
	st.s.mu.Unlock()
	return st.full
}

func (st *Stream) run() {
	defer close(st.done)
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; ; i++ {
		st.s.mu.Lock()
		limit := st.limit
		st.s.mu.Unlock()
		if limit > 0 && i >= limit {
			close(st.full)
			<-st.stop
			return
		}
		// Keep to the schedule; after a stall, catch up without bursting
		// more than the lost time allows.
		if d := time.Until(start.Add(time.Duration(i) * st.s.interval)); d > 0 {
			timer.Reset(d)
			select {
			case <-st.stop:
				return
			case <-timer.C:
			}
		}
		select {
		case <-st.stop:
			return
		default:
		}
		st.s.send()
	}
}

// Stop ends the stream and returns the span it sent.
func (st *Stream) Stop() Span {
	close(st.stop)
	<-st.done
	return Span{First: st.first, End: st.s.next()}
}

// SentAt returns when message seq was sent and the write error, if any.
func (s *Sender) SentAt(seq int) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq < 0 || seq >= len(s.sent) {
		return time.Time{}, fmt.Errorf("message %d was never sent", seq)
	}
	return s.sent[seq].at, s.sent[seq].err
}

// Within returns the part of span whose messages were sent in [from, to].
// Messages leave in sequence order, so the part is contiguous.
func (s *Sender) Within(span Span, from, to time.Time) Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Span{First: span.End, End: span.End}
	for seq := span.First; seq < span.End && seq < len(s.sent); seq++ {
		at := s.sent[seq].at
		if at.Before(from) {
			continue
		}
		if at.After(to) {
			out.End = seq
			break
		}
		if out.First == span.End {
			out.First = seq
		}
	}
	if out.First > out.End {
		out.First = out.End
	}
	return out
}
