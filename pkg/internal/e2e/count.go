package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil/tcpstream"
)

// Received maps a message sequence number to the servers whose output
// file holds it (more than one entry = a duplicate).
type Received map[int][]string

// ReadReceived reads the stand-ins' JSON-lines files, keyed by server
// name, and returns which server got which numbered message. Lines that
// carry no sequence number (other traffic) are skipped.
func ReadReceived(files map[string]string) (Received, error) {
	got := Received{}
	err := scanFiles(files, func(server, msg string) {
		if seq, ok := MessageSeq(msg); ok {
			got[seq] = append(got[seq], server)
		}
	})
	if err != nil {
		return nil, err
	}
	return got, nil
}

// StreamReceived is what the stand-ins received of one TCP stream
// (tcpstream.Line): how many of its lines each server holds, and which
// line numbers arrived.
type StreamReceived struct {
	PerServer map[string]int
	Seqs      map[int]bool
}

// Between counts the stream's distinct lines numbered from+1 to to that
// arrived.
func (r StreamReceived) Between(from, to int) int {
	c := 0
	for seq := range r.Seqs {
		if seq > from && seq <= to {
			c++
		}
	}
	return c
}

// Server returns the server that holds the stream's lines ("" when none
// does, "a+b" when several do).
func (r StreamReceived) Server() string {
	names := make([]string, 0, len(r.PerServer))
	for name := range r.PerServer {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, "+")
}

// ReadStreams reads the stand-ins' JSON-lines files, keyed by server name,
// and returns what arrived of each TCP stream, by stream id. Other lines
// are skipped.
func ReadStreams(files map[string]string) (map[string]StreamReceived, error) {
	got := map[string]StreamReceived{}
	err := scanFiles(files, func(server, msg string) {
		id, seq, ok := tcpstream.ParseLine(msg)
		if !ok {
			return
		}
		r, found := got[id]
		if !found {
			r = StreamReceived{PerServer: map[string]int{}, Seqs: map[int]bool{}}
			got[id] = r
		}
		r.PerServer[server]++
		r.Seqs[seq] = true
	})
	if err != nil {
		return nil, err
	}
	return got, nil
}

// scanFiles calls f with each event's message of every file, the files in
// the order of their server names. A missing file holds nothing.
func scanFiles(files map[string]string, f func(server, msg string)) error {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := scanFile(name, files[name], f); err != nil {
			return err
		}
	}
	return nil
}

func scanFile(server, path string, f func(server, msg string)) error {
	file, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for line := 1; sc.Scan(); line++ {
		var ev struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			// A stand-in killed mid-write leaves at most a partial last line.
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
		f(server, ev.Message)
	}
	return sc.Err()
}

// Window is a stretch of time in which a fault may lose messages.
type Window struct {
	From, To time.Time
}

// Contains reports whether t is inside the window (ends included).
func (w Window) Contains(t time.Time) bool { return !t.Before(w.From) && !t.After(w.To) }

// Tally is what happened to the messages of one span.
type Tally struct {
	Sent, Received, Lost int
	// Duplicates counts messages received more than once.
	Duplicates int
	// PerServer counts received messages by server.
	PerServer map[string]int
	// LostInWindow counts lost messages sent inside a fault window.
	LostInWindow int
	// LostOutside lists lost messages sent outside every fault window.
	LostOutside []int
}

// Count tallies span against got; a lost message sent inside one of
// windows counts as LostInWindow, any other as LostOutside.
func Count(s *Sender, span Span, got Received, windows ...Window) Tally {
	t := Tally{PerServer: map[string]int{}}
	for seq := span.First; seq < span.End; seq++ {
		t.Sent++
		servers := got[seq]
		if len(servers) == 0 {
			t.Lost++
			at, _ := s.SentAt(seq)
			inside := false
			for _, w := range windows {
				if w.Contains(at) {
					inside = true
					break
				}
			}
			if inside {
				t.LostInWindow++
			} else {
				t.LostOutside = append(t.LostOutside, seq)
			}
			continue
		}
		t.Received++
		if len(servers) > 1 {
			t.Duplicates++
		}
		for _, srv := range servers {
			t.PerServer[srv]++
		}
	}
	return t
}

// Split returns the per-server counts as "stash1 500 / stash2 500", in
// the order of servers.
func (t Tally) Split(servers ...string) string {
	parts := make([]string, len(servers))
	for i, s := range servers {
		parts[i] = fmt.Sprintf("%s %d", s, t.PerServer[s])
	}
	return strings.Join(parts, " / ")
}

// Add returns the sum of two tallies.
func (t Tally) Add(o Tally) Tally {
	sum := Tally{
		Sent: t.Sent + o.Sent, Received: t.Received + o.Received, Lost: t.Lost + o.Lost,
		Duplicates: t.Duplicates + o.Duplicates, LostInWindow: t.LostInWindow + o.LostInWindow,
		PerServer:   map[string]int{},
		LostOutside: append(append([]int(nil), t.LostOutside...), o.LostOutside...),
	}
	for k, v := range t.PerServer {
		sum.PerServer[k] += v
	}
	for k, v := range o.PerServer {
		sum.PerServer[k] += v
	}
	return sum
}
