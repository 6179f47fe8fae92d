package rollout

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// UDPFiles are the kernel's UDP socket tables of the caller's network
// namespace.
var UDPFiles = []string{"/proc/net/udp", "/proc/net/udp6"}

// UDPReceiveQueue sums the receive queues (bytes) of the UDP sockets bound
// to port in the given /proc/net/udp-format files, and counts them. A
// missing file (no IPv6) counts as empty.
//
// Equivalent to: ss -uln sport = :PORT (the Recv-Q column).
func UDPReceiveQueue(port uint16, files ...string) (bytes uint64, sockets int, err error) {
	for _, f := range files {
		b, n, err := udpQueue(f, port)
		if err != nil {
			return 0, 0, err
		}
		bytes += b
		sockets += n
	}
	return bytes, sockets, nil
}

func udpQueue(path string, port uint16) (uint64, int, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read UDP sockets: %w", err)
	}
	defer f.Close()
	b, n, err := parseUDP(f, port)
	if err != nil {
		return 0, 0, fmt.Errorf("read UDP sockets %s: %w", path, err)
	}
	return b, n, nil
}

// parseUDP reads lines such as
//
//	sl  local_address rem_address   st tx_queue rx_queue ...
//	 0: 00000000:158A 00000000:0000 07 00000000:00000000 ...
func parseUDP(r io.Reader, port uint16) (uint64, int, error) {
	sc := bufio.NewScanner(r)
	var bytes uint64
	n := 0
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Fields(sc.Text())
		if line == 1 || len(fields) == 0 {
			continue // header
		}
		if len(fields) < 5 {
			return 0, 0, fmt.Errorf("line %d: %d fields, want at least 5", line, len(fields))
		}
		_, p, ok := strings.Cut(fields[1], ":")
		if !ok {
			return 0, 0, fmt.Errorf("line %d: local address %q", line, fields[1])
		}
		lport, err := strconv.ParseUint(p, 16, 16)
		if err != nil {
			return 0, 0, fmt.Errorf("line %d: local port %q", line, p)
		}
		if uint16(lport) != port {
			continue
		}
		_, rx, ok := strings.Cut(fields[4], ":")
		q, err := strconv.ParseUint(rx, 16, 64)
		if !ok || err != nil {
			return 0, 0, fmt.Errorf("line %d: queues %q", line, fields[4])
		}
		bytes += q
		n++
	}
	return bytes, n, sc.Err()
}
