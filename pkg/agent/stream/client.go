package stream

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stream is a director's end of one agent's stream.
type Stream struct {
	url   string
	body  io.ReadCloser
	lines *bufio.Scanner
	idle  time.Duration
	timer *time.Timer
	// silent is set when the idle timer closed the body.
	silent atomic.Bool
	once   sync.Once
}

// Dial opens the stream of the agent at base (http://host:port), sending
// token as a bearer token when set. A stream on which nothing, not even a
// ping, arrives for idle is closed and Next returns an error.
func Dial(ctx context.Context, client *http.Client, base, token string, idle time.Duration) (*Stream, error) {
	url := strings.TrimSuffix(base, "/") + StreamPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("connect to hala agent: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("hala agent at %s: %s: %s", url, resp.Status, strings.TrimSpace(string(msg)))
	}
	s := &Stream{url: url, body: resp.Body, lines: bufio.NewScanner(resp.Body), idle: idle}
	s.lines.Buffer(make([]byte, 64<<10), 4<<20)
	s.timer = time.AfterFunc(idle, func() {
		s.silent.Store(true)
		s.body.Close()
	})
	return s, nil
}

// Next returns the next state or change event; pings only keep the
// stream alive.
func (s *Stream) Next() (Event, error) {
	for s.lines.Scan() {
		s.timer.Reset(s.idle)
		var ev Event
		if err := json.Unmarshal(s.lines.Bytes(), &ev); err != nil {
			return Event{}, fmt.Errorf("hala agent at %s: bad line: %w", s.url, err)
		}
		if ev.Type == EventPing {
			continue
		}
		return ev, nil
	}
	if s.silent.Load() {
		return Event{}, fmt.Errorf("hala agent at %s: nothing received for %s", s.url, s.idle)
	}
	if err := s.lines.Err(); err != nil {
		return Event{}, fmt.Errorf("hala agent at %s: %w", s.url, err)
	}
	return Event{}, fmt.Errorf("hala agent at %s: stream ended", s.url)
}

// Close ends the stream.
func (s *Stream) Close() error {
	s.once.Do(func() { s.timer.Stop() })
	return s.body.Close()
}

// Snapshot reads the state of every input from the agent at base: the
// first line of its stream.
func Snapshot(ctx context.Context, client *http.Client, base, token string) ([]State, error) {
	s, err := Dial(ctx, client, base, token, 3*DefaultPing)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	ev, err := s.Next()
	if err != nil {
		return nil, err
	}
	if ev.Type != EventState {
		return nil, fmt.Errorf("hala agent at %s: first line is %q, want %q", base, ev.Type, EventState)
	}
	return ev.Inputs, nil
}

// NewClient is the HTTP client for agents: no proxy, and bounds on the
// connect and on the response's headers (the stream's body has its own
// idle bound, see Dial).
func NewClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		ResponseHeaderTimeout: 3 * time.Second,
	}}
}
