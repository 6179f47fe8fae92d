//go:build linux && integration

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// fastAdvert is the second B8 row's advert_int: VRRP version 3 counts it
// in centiseconds, version 2 only in whole seconds.
const fastAdvert = 100 * time.Millisecond

// fastAllowance is what the 100 ms row's bound allows beyond the theory
// and the measured ip command: sampling (100 ms), keepalived's timer,
// adding the address and its gratuitous ARPs in the TCG VM. Measured
// there: 0.35–0.41 s after the ip command against a theory of 0.36 s; a
// tighter allowance (0.2 s) left too little for a busy machine's VM.
const fastAllowance = 400 * time.Millisecond

// vipHolderDies is B8, the baseline of the BGP half's B2, in the director
// half (VRRP, the example's advert_int 1s): the VIP holder's host dies as
// in B2. The failover is measured and reported: row 5 of the keepalived
// half asserts VRRP's bound.
func vipHolderDies(c *cluster) Row { return c.hostDies(false) }

// vipHolderDiesFast is B8 again with the VIP advertising every 100 ms
// over VRRP version 3, from the inventory's vip.advert_interval rendered
// by hala render; keepalived restarts on both directors with it. The
// failover bound is asserted. It is the last row of its cluster: VRRP
// stays at 100 ms afterwards.
func vipHolderDiesFast(c *cluster) Row {
	if err := c.rerenderAdvert(fastAdvert); err != nil {
		row := Row{Scenario: hostDiesScenario(fastAdvert), Bound: "re-render and restart keepalived"}
		row.Failf("%v", err)
		return row
	}
	return c.hostDies(true)
}

// hostDies runs B8 at the cluster's current advert_int: the VIP holder's
// link goes down, then keepalived, hala director and its Logstash
// stand-in stop at once. The failover (3 × advert_int + skew in theory)
// and every message lost are measured. With bounded, the failover must
// stay within the theory plus what emulation adds: the sampling interval,
// the time `ip link set down` took (the clock starts before it, the link
// goes down near its end: starting a process in the TCG VM takes 0.2s)
// and vrrpLatency for keepalived's timer and its adding the address.
func (c *cluster) hostDies(bounded bool) Row {
	c.stopAgents() // B8 measures VRRP as without agents
	p, s := c.nodes[0], c.nodes[1]
	skew := time.Duration(float64(c.advert) * float64(256-c.priority[s.name]) / 256)
	bound := 3*c.advert + skew
	row := Row{Scenario: hostDiesScenario(c.advert),
		Bound: fmt.Sprintf("reported (3 × advert_int + skew = %s); loss counted: the baseline of B2", Seconds(bound))}
	c.settle(&row, p)
	iface := c.inv.Directors[0].Interface

	st := c.sender.Start()
	time.Sleep(time.Second)
	t0 := time.Now()
	if out, err := p.ns.Cmd("ip", "link", "set", iface, "down").CombinedOutput(); err != nil {
		row.Failf("link down: %v %s", err, out)
	}
	down := time.Since(t0)
	if err := p.killKeepalived(); err != nil {
		row.Failf("kill keepalived: %v", err)
	}
	syscall.Kill(p.hd.Pid(), syscall.SIGKILL)
	p.hd.Stop()
	p.killStandin()
	s1, ok := c.mon.waitFor(t0, 10*bound, func(x sample) bool { return x.vip[s.name] })
	t1 := s1.seen[s.name]
	if !ok {
		t1 = time.Now()
		row.Failf("VIP not on %s %s after the host died: %s", s.name, Seconds(t1.Sub(t0)), c.describe(s1))
	}
	failover := t1.Sub(t0)
	c.t.Logf("%s: ip link set down returned after %s, VIP on %s after %s", row.Scenario, fmtDur(down), s.name, fmtDur(failover))
	if bounded {
		limit := bound + down + fastAllowance
		row.Bound = fmt.Sprintf("failover ≤ 3 × advert_int + skew = %s, + %s ip link set down + %s emulation = %s; loss reported",
			fmtDur(bound), fmtDur(down), fmtDur(fastAllowance), fmtDur(limit))
		row.Check(!ok || failover <= limit, "VIP on %s after %s; bound %s", s.name, fmtDur(failover), fmtDur(limit))
	}
	// stash2 also takes the dead backend out of its table.
	rs := c.rs(p)
	s2, ok := c.mon.waitFor(t1, 10*time.Second, func(x sample) bool { return !x.in(s.name, rs) })
	if !ok {
		row.Failf("%s still in %s's table: %s", p.name, s.name, c.describe(s2))
	}
	time.Sleep(time.Second)
	span := st.Stop()
	c.hold()
	tl := c.count(&row, span, Window{From: t0, To: t1})
	row.Add(tl)
	row.Check(tl.Duplicates == 0, "%d duplicates", tl.Duplicates)
	ft := Seconds(failover)
	if bounded {
		ft = fmtDur(failover)
	}
	row.Time = fmt.Sprintf("failover %s; %d lost during it, %d after (dead backend)", ft, tl.LostInWindow, len(tl.LostOutside))

	// The host comes back.
	if out, err := p.ns.Cmd("ip", "link", "set", iface, "up").CombinedOutput(); err != nil {
		row.Failf("link up: %v %s", err, out)
	}
	if err := c.startStandin(p, 0); err != nil {
		row.Failf("%v", err)
	}
	c.startDirector(p)
	if err := c.waitDirector(p); err != nil {
		row.Failf("%v", err)
	}
	c.startKeepalived(p)
	if _, ok := c.mon.waitFor(time.Now(), 60*time.Second, func(x sample) bool {
		return slices.Equal(x.holders(), []string{p.name}) && c.healthy(x, p)
	}); !ok {
		row.Failf("%s not back as the VIP holder: %s", p.name, c.describe(c.mon.last()))
	}
	return row
}

// fmtDur shows d in seconds with two decimals ("0.36s"): sub-second
// bounds need more than Seconds' one.
func fmtDur(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

// rerenderAdvert renders the example again with its VIP advertising every
// advert over VRRP version 3 (which has no authentication, so the VIP
// drops the cluster's password), as an operator would: the keys in the
// inventory, then hala render. Only the VIP's vrrp_instance may change
// (advert_int, version, authentication), or it fails. keepalived then
// restarts on both directors with the new file, the VIP holder first.
// hala director reads no VRRP key and keeps running.
func (c *cluster) rerenderAdvert(advert time.Duration) error {
	src, err := os.ReadFile(c.example)
	if err != nil {
		return err
	}
	if n := bytes.Count(src, []byte("\n[[vip]]\n")); n != 1 {
		return fmt.Errorf("%s: %d [[vip]] tables, want 1", c.example, n)
	}
	keys := fmt.Sprintf("advert_interval = %q\nvrrp_version = 3\nvrrp_auth_pass = \"\"\n", advert)
	src = bytes.Replace(src, []byte("\n[[vip]]\n"), []byte("\n[[vip]]\n"+keys), 1)
	name := fmt.Sprintf("advert-%s", advert)
	inv := filepath.Join(c.tmp, name+".toml")
	if err := os.WriteFile(inv, src, 0o644); err != nil {
		return err
	}
	out := filepath.Join(c.tmp, name)
	if b, err := exec.Command(c.hala, "render", "-i", inv, "-d", out).CombinedOutput(); err != nil {
		return fmt.Errorf("hala render with vip.advert_interval = %q: %v\n%s", advert, err, b)
	}
	want := "advert_int " + strconv.FormatFloat(advert.Seconds(), 'f', -1, 64)
	vrrpLine := regexp.MustCompile(`^(advert_int .*|version 3|authentication \{|auth_type PASS|auth_pass .*|\}|#.*)$`)
	confs := map[*node]string{}
	for _, n := range c.nodes {
		old, err := os.ReadFile(filepath.Join(n.dir, "keepalived.conf"))
		if err != nil {
			return err
		}
		conf := filepath.Join(out, n.name, "keepalived.conf")
		data, err := os.ReadFile(conf)
		if err != nil {
			return err
		}
		changed := lineDiff(string(old), string(data))
		for _, l := range changed {
			if !vrrpLine.MatchString(strings.TrimSpace(l)) {
				return fmt.Errorf("%s: the re-render changed more than the VIP's advert: %q", conf, changed)
			}
		}
		if !slices.ContainsFunc(changed, func(l string) bool { return strings.TrimSpace(l) == want }) ||
			!slices.ContainsFunc(changed, func(l string) bool { return strings.TrimSpace(l) == "version 3" }) {
			return fmt.Errorf("%s: no %q and \"version 3\" among the changed lines %q", conf, want, changed)
		}
		confs[n] = conf
	}

	for _, n := range slices.Backward(c.nodes) {
		n.ka.Stop()
	}
	for i, n := range c.nodes {
		j := slices.Index(n.kaArgs, "--use-file")
		n.kaArgs[j+1] = confs[n]
		c.startKeepalived(n)
		if i == 0 {
			if _, ok := c.mon.waitFor(time.Now(), 30*time.Second, func(x sample) bool { return x.vip[n.name] }); !ok {
				return fmt.Errorf("%s did not take the VIP after keepalived restarted with %s: %s", n.name, confs[n], c.describe(c.mon.last()))
			}
		}
	}
	c.advert = advert
	return nil
}

// lineDiff returns the lines of a not in b and of b not in a, each as
// many times as it is missing.
func lineDiff(a, b string) []string {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	var out []string
	for _, l := range append(strings.Split(a, "\n"), strings.Split(b, "\n")...) {
		if n := count[l]; n != 0 {
			out = append(out, l)
			if n > 0 {
				count[l]--
			} else {
				count[l]++
			}
		}
	}
	return out
}
