package rollout

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeClock is the waits' clock: each Sleep moves it on by its duration
// and fails with DeadlineExceeded once it reaches the deadline, as a
// context with that deadline would.
type fakeClock struct {
	now, deadline time.Time
}

var t0 = time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC)

// clock starts at t0; timeout 0 means no deadline.
func clock(timeout time.Duration) (*fakeClock, WaitOptions) {
	c := &fakeClock{now: t0}
	if timeout > 0 {
		c.deadline = t0.Add(timeout)
	}
	return c, WaitOptions{
		Every: 100 * time.Millisecond, Quiet: time.Second,
		Now: func() time.Time { return c.now },
		Sleep: func(_ context.Context, d time.Duration) error {
			c.now = c.now.Add(d)
			if !c.deadline.IsZero() && !c.now.Before(c.deadline) {
				return context.DeadlineExceeded
			}
			return nil
		},
	}
}

// script returns reads that step through samples, staying on the last.
func script[T any](samples ...T) (func(context.Context) (T, error), func() int) {
	i := 0
	return func(context.Context) (T, error) {
			s := samples[min(i, len(samples)-1)]
			i++
			return s, nil
		}, func() int {
			return i
		}
}

func TestWaitDirector(t *testing.T) {
	dst := "syslog-tcp TCP 10.0.0.100:5514 -> 10.0.0.11:5514"
	read, reads := script(
		[]Destination{{Name: dst, Weight: 1, ActiveConns: 3, InPkts: 100}},
		[]Destination{{Name: dst, Weight: 0, ActiveConns: 2, InPkts: 150}},
		[]Destination{{Name: dst, Weight: 0, ActiveConns: 0, InPkts: 160}},
		[]Destination{{Name: dst, Weight: 0, ActiveConns: 0, InPkts: 170}}, // FIN/late packets
		[]Destination{{Name: dst, Weight: 0, ActiveConns: 0, InPkts: 170}},
	)
	c, o := clock(0)
	if err := WaitDirector(context.Background(), o, read); err != nil {
		t.Fatal(err)
	}
	// The counter last moved at the 4th read (t0+300ms); it returns at
	// the first read Quiet after that: the 14th, at t0+1.3s.
	if n, at := reads(), c.now.Sub(t0); n != 14 || at != 1300*time.Millisecond {
		t.Errorf("returned at read %d (t0+%v), want read 14 (t0+1.3s): Quiet after the counters last moved", n, at)
	}
}

func TestWaitDirectorGone(t *testing.T) {
	read, reads := script([]Destination(nil))
	_, o := clock(0)
	if err := WaitDirector(context.Background(), o, read); err != nil || reads() != 1 {
		t.Errorf("no destination left: %v after %d reads, want nil after 1", err, reads())
	}
}

// On timeout the error names every destination still pointing at it.
func TestWaitDirectorTimeout(t *testing.T) {
	read, reads := script([]Destination{
		{Name: "syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.11:5514", Weight: 1, InPkts: 9},
		{Name: "syslog-tcp TCP 10.0.0.100:5514 -> 10.0.0.11:5514", Weight: 0, ActiveConns: 4},
	})
	_, o := clock(5 * time.Second)
	err := WaitDirector(context.Background(), o, read)
	if !errors.Is(err, ErrStillServing) {
		t.Fatalf("err = %v, want ErrStillServing", err)
	}
	if reads() != 50 {
		t.Errorf("%d reads before the 5s deadline, want 50 (one every 100ms)", reads())
	}
	for _, want := range []string{"syslog-udp UDP 10.0.0.100:5514 -> 10.0.0.11:5514 weight 1, 0 active connections, 9 packets in (not quiesced)", "syslog-tcp TCP 10.0.0.100:5514 -> 10.0.0.11:5514 weight 0, 4 active connections"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to list %q", err, want)
		}
	}
}

func TestWaitBackendHost(t *testing.T) {
	read, reads := script(
		HostSample{EventsOut: 10, RxQueue: 0},
		HostSample{EventsOut: 20, RxQueue: 512},
		HostSample{EventsOut: 30, RxQueue: 0},
		HostSample{EventsOut: 30, RxQueue: 256}, // a late datagram: not done
		HostSample{EventsOut: 31, RxQueue: 0},
		HostSample{EventsOut: 31, RxQueue: 0},
	)
	c, o := clock(0)
	if err := WaitBackendHost(context.Background(), o, read); err != nil {
		t.Fatal(err)
	}
	// events.out last grew at the 5th read (t0+400ms).
	if n, at := reads(), c.now.Sub(t0); n != 15 || at != 1400*time.Millisecond {
		t.Errorf("returned at read %d (t0+%v), want read 15 (t0+1.4s): Quiet after events.out and the queue last moved", n, at)
	}
	grow := int64(0)
	_, o = clock(5 * time.Second)
	err := WaitBackendHost(context.Background(), o, func(context.Context) (HostSample, error) { grow++; return HostSample{EventsOut: grow}, nil })
	if !errors.Is(err, ErrStillServing) || !strings.Contains(err.Error(), "events.out 50 (growing within the last 1s)") {
		t.Errorf("events still growing at the deadline: %v", err)
	}
}

const procNetUDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 00000000:158A 00000000:0000 07 00000000:00000300 00:00000000 00000000     0        0 40611 2 0000000000000000 0
  200: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 20170 2 0000000000000000 0
  201: 0B00000A:158A 00000000:0000 07 00000000:00000044 00:00000000 00000000     0        0 40612 2 0000000000000000 0
`

const procNetUDP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
   12: 00000000000000000000000000000000:158A 00000000000000000000000000000000:0000 07 00000000:00000010 00:00000000 00000000     0        0 40613 2 0000000000000000 0
`

func TestParseUDP(t *testing.T) {
	b, n, err := parseUDP(strings.NewReader(procNetUDP), 5514)
	if err != nil || b != 0x300+0x44 || n != 2 {
		t.Errorf("udp: %d bytes in %d sockets (%v), want %d in 2", b, n, err, 0x300+0x44)
	}
	b, n, err = parseUDP(strings.NewReader(procNetUDP6), 5514)
	if err != nil || b != 0x10 || n != 1 {
		t.Errorf("udp6: %d bytes in %d sockets (%v)", b, n, err)
	}
	if _, _, err := parseUDP(strings.NewReader("header\n 1: garbage\n"), 5514); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("garbage: %v, want an error naming line 2", err)
	}
}

// The real kernel's table: datagrams nobody reads show in rx_queue.
func TestUDPReceiveQueueOfARealSocket(t *testing.T) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := uint16(conn.LocalAddr().(*net.UDPAddr).Port)
	if b, n, err := UDPReceiveQueue(port, UDPFiles...); err != nil || b != 0 || n != 1 {
		t.Fatalf("idle socket: %d bytes in %d sockets (%v), want 0 in 1", b, n, err)
	}
	out, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	for range 3 {
		if _, err := out.Write([]byte("<13>hello")); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		b, _, err := UDPReceiveQueue(port, UDPFiles...)
		if err != nil {
			t.Fatal(err)
		}
		if b > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("three unread datagrams never showed in rx_queue")
		}
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 100)
	for range 3 {
		if _, err := conn.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	if b, _, _ := UDPReceiveQueue(port, UDPFiles...); b != 0 {
		t.Errorf("after reading every datagram: %d bytes queued, want 0", b)
	}
}
