//go:build linux && integration

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hala-lb/hala/pkg/internal/testutil"
)

// Rolling restarts through hala drain, run by scripts/rolling-restart as
// the README gives it, and the load-weights scenario.

// writeRestartScript writes the --restart command: run inside a stash
// namespace, it restarts that namespace's stand-in as "systemctl restart
// logstash" restarts Logstash, returning once the old process has stopped
// and the new one started (it listens after its start delay).
func (c *cluster) writeRestartScript() error {
	c.restart = filepath.Join(c.tmp, "restart-standin")
	script := fmt.Sprintf(`#!/bin/sh
# The stand-in of this namespace: its pid file is named after the namespace.
set -eu
f=%s/$(%s netns identify).pid
pid=$(cat "$f")
rm -f "$f"
kill -HUP "$pid"
# The restarted process writes the file once the old one has stopped.
i=0
until [ -s "$f" ]; do
	i=$((i + 1))
	[ "$i" -le 300 ] || { echo "restart-standin: $f not written again within 30s" >&2; exit 1; }
	sleep 0.1
done
`, c.tmp, c.ip)
	return os.WriteFile(c.restart, []byte(script), 0o755)
}

// inventoryPath is the inventory the hosts run from: the installed one
// for hala director, else the example.
func (c *cluster) inventoryPath() string {
	if c.director {
		return c.invPath
	}
	return c.example
}

// stampedLines records each line written to it with the time it arrived.
type stampedLines struct {
	mu    sync.Mutex
	buf   []byte
	lines []stampedLine
}

type stampedLine struct {
	at   time.Time
	text string
}

func (s *stampedLines) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		s.lines = append(s.lines, stampedLine{time.Now(), string(s.buf[:i])})
		s.buf = s.buf[i+1:]
	}
}

func (s *stampedLines) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, l := range s.lines {
		fmt.Fprintf(&b, "%s %s\n", l.at.Format("15:04:05.000"), l.text)
	}
	return b.String() + string(s.buf)
}

// first returns when the first line containing text arrived.
func (s *stampedLines) first(text string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if strings.Contains(l.text, text) {
			return l.at, true
		}
	}
	return time.Time{}, false
}

// rollingRestartDrained is scenario 7 (D10): scripts/rolling-restart
// restarts both stand-ins, each drained on both directors first and
// undrained once hala check passes, while the client sends 100 msg/s.
// Nothing may be lost or duplicated: the drain takes a node out of the
// tables before its restart, and it is back before the next one's drain.
func rollingRestartDrained(c *cluster) Row {
	holder := c.nodes[0]
	row := Row{Scenario: c.label(map[bool]string{false: "7", true: "10"}[c.director] + " rolling restart with hala drain")}
	row.Bound = "lost 0, no duplicates, each stand-in restarted once while out of the tables, no drain left, even split after"
	c.settle(&row, holder)
	root, err := testutil.ModuleRoot()
	if err != nil {
		row.Failf("%v", err)
		return row
	}
	restarts := map[string]int{}
	for _, n := range c.nodes {
		restarts[n.name] = strings.Count(n.standin.Output(), "restarting\n")
	}

	st := c.sender.Start()
	time.Sleep(time.Second)
	t0 := time.Now()
	// As the README gives it, the hosts reached by their inventory names.
	cmd := exec.Command(filepath.Join(root, "scripts", "rolling-restart"), "-i", c.inventoryPath(),
		"--remote", c.ip+" netns exec "+testutil.NetNSPrefix()+"{}",
		"--hala", c.inv.Cluster.HalaPath, "--restart", c.restart, "--timeout", "30s")
	// Every host reads the default drain directory, which setup.sh created:
	// the VM's one file system makes it every director's.
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "HALA_DRAIN_DIR=") }),
		"LOCAL_HALA="+c.hala)
	var out stampedLines
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		row.Failf("scripts/rolling-restart: %v\n%s", err, out.String())
	}
	took := time.Since(t0)
	c.t.Logf("scripts/rolling-restart, %s:\n%s", Seconds(took), out.String())
	time.Sleep(time.Second)
	span := st.Stop()
	split := c.sender.Burst(evenCount)
	c.hold()

	var times []string
	for i, n := range c.nodes {
		from, ok1 := out.first("rolling-restart: " + n.name + ": drain on")
		to, ok2 := out.first("rolling-restart: " + n.name + ": back in service")
		if ok1 && ok2 {
			times = append(times, fmt.Sprintf("%s %s", n.name, Seconds(to.Sub(from))))
		}
		if got := strings.Count(n.standin.Output(), "restarting\n") - restarts[n.name]; got != 1 {
			row.Failf("the stand-in on %s restarted %d times, want once", n.name, got)
		}
		// Out of the VIP holder's table between its drain and its return.
		next := time.Now()
		if i+1 < len(c.nodes) {
			if t, ok := out.first("rolling-restart: " + c.nodes[i+1].name + ": drain on"); ok {
				next = t
			}
		}
		left := false
		for _, s := range c.mon.between(from, next) {
			if !s.in(holder.name, c.rs(n)) {
				left = true
				break
			}
		}
		row.Check(ok1 && ok2 && left, "%s never left %s's table during its restart", n.name, holder.name)
	}
	row.Time = fmt.Sprintf("drain to back: %s; script %s", strings.Join(times, ", "), Seconds(took))
	if left, err := exec.Command(c.hala, "drain", "--list").CombinedOutput(); err != nil || !strings.HasPrefix(string(left), "no backend drained") {
		row.Failf("drain records left after the script: %s %v", left, err)
	}
	tl := c.count(&row, span)
	sp := c.count(&row, split)
	row.Add(tl)
	row.Add(sp)
	row.Check(tl.Lost == 0, "%d lost during the drained rolling restart: %v", tl.Lost, lostSeqs(c, tl, t0))
	row.Check(tl.Duplicates == 0, "%d duplicates", tl.Duplicates)
	c.checkSplit(&row, "after the restarts", sp)
	return row
}

// lostSeqs describes a tally's lost messages relative to t0.
func lostSeqs(c *cluster, tl Tally, t0 time.Time) string {
	if len(tl.LostOutside) == 0 {
		return "none outside windows"
	}
	return c.lostText(tl.LostOutside, t0)
}
