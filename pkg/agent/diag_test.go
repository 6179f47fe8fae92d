package agent

import (
	"errors"
	"net/netip"
	"os"
	"syscall"
	"testing"
)

// The testdata/*.bin files are netlink datagrams recorded from a 6.18
// kernel: dumps answered to dumpRequest, and destruction broadcasts read
// from the SKNLGRP_INET{,6}_{UDP,TCP}_DESTROY groups. dump-udp4.bin is a
// socket with a 2 KiB receive buffer after 50 datagrams of 200 bytes.
func TestParseRecorded(t *testing.T) {
	tests := []struct {
		file  string
		proto Proto // of the dump request; 0 for a broadcast
		want  []Socket
		done  bool
	}{
		{file: "dump-udp4.bin", proto: UDP, want: []Socket{{
			Proto: UDP, State: 7, Addr: netip.MustParseAddr("127.0.0.1"), Port: 45514, Peer: netip.MustParseAddrPort("0.0.0.0:0"),
			Cookie: 4097, Inode: 22339, RQueue: 3840, Drops: 47, HasMem: true,
		}}},
		{file: "dump-udp4-done.bin", proto: UDP, done: true},
		{file: "dump-tcp4.bin", proto: TCP, want: []Socket{
			{Proto: TCP, State: tcpListen, Addr: netip.MustParseAddr("0.0.0.0"), Port: 2024, Peer: netip.MustParseAddrPort("0.0.0.0:0"), Cookie: 2, Inode: 245, HasMem: true},
			{Proto: TCP, State: tcpListen, Addr: netip.MustParseAddr("127.0.0.1"), Port: 45515, Peer: netip.MustParseAddrPort("0.0.0.0:0"), Cookie: 4098, Inode: 22345, HasMem: true},
		}},
		// A broadcast carries INET_DIAG_PROTOCOL, the last queue, and no
		// inode or memory counters; a closed listener is in state CLOSE.
		{file: "destroy-udp4.bin", want: []Socket{{
			Proto: UDP, State: 7, Addr: netip.MustParseAddr("127.0.0.1"), Port: 45514, Peer: netip.MustParseAddrPort("0.0.0.0:0"), Cookie: 4097, RQueue: 3840,
		}}},
		{file: "destroy-tcp4.bin", want: []Socket{{
			Proto: TCP, State: 7, Addr: netip.MustParseAddr("127.0.0.1"), Port: 45515, Peer: netip.MustParseAddrPort("0.0.0.0:0"), Cookie: 4098,
		}}},
		{file: "destroy-udp6.bin", want: []Socket{{
			Proto: UDP, State: 7, Addr: netip.MustParseAddr("::1"), Port: 45516, Peer: netip.MustParseAddrPort("[::]:0"), Cookie: 4099,
		}}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			got, done, err := parse(b, tc.proto)
			if err != nil {
				t.Fatal(err)
			}
			if done != tc.done {
				t.Errorf("done = %v, want %v", done, tc.done)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d sockets %v, want %d", len(got), got, len(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("socket %d:\n got %+v\nwant %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestParseBad(t *testing.T) {
	b, err := os.ReadFile("testdata/destroy-udp4.bin")
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < len(b); n++ {
		if _, _, err := parse(b[:n], 0); !errors.Is(err, ErrTruncated) {
			t.Fatalf("first %d bytes: err = %v, want ErrTruncated", n, err)
		}
	}
	// NLMSG_ERROR with -EACCES (13).
	e := []byte{36, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xf3, 0xff, 0xff, 0xff}
	e = append(e, make([]byte, 16)...)
	if _, _, err := parse(e, UDP); !errors.Is(err, syscall.EACCES) {
		t.Errorf("error message: err = %v, want EACCES", err)
	}
}

func TestDumpRequest(t *testing.T) {
	b := dumpRequest(afInet6, TCP, 1<<tcpListen, 9)
	// struct nlmsghdr + struct inet_diag_req_v2, as ss sends it.
	want := []byte{72, 0, 0, 0, 20, 0, 0x01, 0x03, 9, 0, 0, 0, 0, 0, 0, 0, 10, 6, 64, 0, 0, 4, 0, 0}
	if got := b[:len(want)]; string(got) != string(want) {
		t.Errorf("header = % x, want % x", got, want)
	}
	if len(b) != 72 {
		t.Errorf("length %d, want 72", len(b))
	}
}

func TestParseNoPorts(t *testing.T) {
	snmp := "Ip: Forwarding DefaultTTL\nIp: 1 64\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\nUdp: 1046 37 0 1120 0 0 0 0 0\nUdpLite: InDatagrams NoPorts\nUdpLite: 0 5\n"
	n, err := parseNoPorts([]byte(snmp))
	if err != nil || n != 37 {
		t.Errorf("parseNoPorts = %d, %v; want 37", n, err)
	}
	if _, err := parseNoPorts([]byte("Ip: a\nIp: 1\n")); err == nil {
		t.Error("no Udp lines: want an error")
	}
}
