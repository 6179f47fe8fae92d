//go:build linux

package ipvs

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// dumpKernel answers service dumps as the kernel does, one datagram per
// dump: a message per service, then NLMSG_DONE. The first interrupted
// replies carry NLM_F_DUMP_INTR on their first message, as the kernel
// flags a dump during which the table changed.
type dumpKernel struct {
	services    []Service
	interrupted int // replies still to flag
	requests    int
	queue       [][]byte
}

func (k *dumpKernel) send(b []byte) error {
	k.requests++
	seq := binary.NativeEndian.Uint32(b[8:])
	flag := uint16(0)
	if k.interrupted > 0 {
		k.interrupted--
		flag = unix.NLM_F_DUMP_INTR
	}
	var dgram []byte
	for i, s := range k.services {
		enc := &conn{family: 42}
		enc.encode(Request{Op: OpAddService, Service: s}, false)
		msg := enc.out
		binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_MULTI)
		if i == 0 {
			binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_MULTI|flag)
		}
		binary.NativeEndian.PutUint32(msg[8:], seq)
		dgram = append(dgram, msg...)
	}
	done := make([]byte, unix.NLMSG_HDRLEN+4)
	binary.NativeEndian.PutUint32(done, uint32(len(done)))
	binary.NativeEndian.PutUint16(done[4:], unix.NLMSG_DONE)
	binary.NativeEndian.PutUint16(done[6:], unix.NLM_F_MULTI)
	binary.NativeEndian.PutUint32(done[8:], seq)
	k.queue = append(k.queue, append(dgram, done...))
	return nil
}

func (k *dumpKernel) recv() ([]byte, error) {
	if len(k.queue) == 0 {
		return nil, errTimeout
	}
	b := k.queue[0]
	k.queue = k.queue[1:]
	return b, nil
}

func dumpServices() []Service {
	return []Service{
		{Protocol: UDP, Address: netip.MustParseAddr("10.0.0.100"), Port: 5514, Scheduler: "rr", Netmask: 0xffffffff},
		{Protocol: TCP, Address: netip.MustParseAddr("10.0.0.100"), Port: 5044, Scheduler: "wlc", Netmask: 0xffffffff},
	}
}

// A dump the kernel flags as interrupted may miss or repeat entries: it is
// read to its end, thrown away and made again, and the caller gets the
// first complete one, each service once.
func TestDumpRetriesAnInterruptedReply(t *testing.T) {
	k := &dumpKernel{services: dumpServices(), interrupted: 2}
	c := &conn{family: 42, fake: k}
	got, err := c.services()
	if err != nil {
		t.Fatalf("services: %v", err)
	}
	if !slices.Equal(got, k.services) {
		t.Errorf("services = %v, want %v once each", got, k.services)
	}
	if k.requests != 3 {
		t.Errorf("%d dump requests, want 3 (two interrupted, one complete)", k.requests)
	}
	if len(k.queue) != 0 {
		t.Errorf("%d replies left unread", len(k.queue))
	}
}

// A table that keeps changing is not read forever: after maxDumpAttempts
// interrupted dumps the error says what happened.
func TestDumpGivesUpWhenAlwaysInterrupted(t *testing.T) {
	k := &dumpKernel{services: dumpServices(), interrupted: 1 << 30}
	c := &conn{family: 42, fake: k}
	got, err := c.services()
	if !errors.Is(err, ErrDumpInterrupted) || !strings.Contains(err.Error(), "changed while it was being read") {
		t.Fatalf("services = %v, %v; want ErrDumpInterrupted", got, err)
	}
	if k.requests != maxDumpAttempts {
		t.Errorf("%d dump requests, want %d", k.requests, maxDumpAttempts)
	}
}
