package director

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// mhSource is clusterSource with the TCP service on tcp-5514 (port 5515)
// scheduled by mh with direct routing: on_failure defaults to quiesce.
func mhSource() string {
	return strings.Replace(clusterSource("", ""), `input_id = "tcp-5514"
scheduler = "wlc"`, `input_id = "tcp-5514"
scheduler = "mh"
forwarding = "dr"`, 1)
}

// setInput makes backend addr's API report input id as gone (ok false)
// or back.
func (r *rig) setInput(addr, id string, ok bool) {
	a := r.apis[addr]
	from, to := `"`+id+`"`, `"`+id+`-gone"`
	if ok {
		from, to = to, from
	}
	a.body.Store(bytes.ReplaceAll(a.body.Load().([]byte), []byte(from), []byte(to)))
}

// TestMHKeepsEveryBackendInTheList: an mh service's list holds every
// backend in one order whatever the director saw, a failed one at weight
// 0: a director that starts while l2 fails adds it at its weight, then
// sets 0 (so the kernel counts it in the table), and health transitions
// are weight updates, never a delete or an add.
func TestMHKeepsEveryBackendInTheList(t *testing.T) {
	r := newRig(t, parse(t, mhSource()), nil)
	r.setInput("10.0.0.12", "tcp-5514", false)
	r.start()
	var mine []string
	for _, w := range r.table.takeWrites() {
		if strings.Contains(w, ":5515") {
			mine = append(mine, w)
		}
	}
	want := []string{
		"add service TCP 10.0.0.100:5515",
		"add destination 10.0.0.11:5515 on TCP 10.0.0.100:5515",
		"add destination 10.0.0.12:5515 on TCP 10.0.0.100:5515",
		"update destination 10.0.0.12:5515 on TCP 10.0.0.100:5515",
	}
	if !slices.Equal(mine, want) {
		t.Errorf("start with l2 failing wrote %q, want %q", mine, want)
	}
	if got := r.table.list(5515); !slices.Equal(got, []string{"10.0.0.12:5515/0", "10.0.0.11:5515/1"}) {
		t.Errorf("list %v, want l2 at weight 0 and l1, newest first", got)
	}

	r.setInput("10.0.0.12", "tcp-5514", true)
	r.waitFor("l2 back at weight 1", func() bool {
		return slices.Equal(r.table.list(5515), []string{"10.0.0.12:5515/1", "10.0.0.11:5515/1"})
	})
	r.setInput("10.0.0.11", "tcp-5514", false)
	r.waitFor("l1 at weight 0", func() bool {
		return slices.Equal(r.table.list(5515), []string{"10.0.0.12:5515/1", "10.0.0.11:5515/0"})
	})
	for _, w := range r.table.takeWrites() {
		if strings.Contains(w, ":5515") && !strings.HasPrefix(w, "update destination") {
			t.Errorf("a health transition of an mh service wrote %q; want weight updates only", w)
		}
	}
}

// TestMHReloadKeepsTheOrder: a reload that adds a backend below an
// existing one re-adds that one after it, so the list is the one a
// director started with both would have.
func TestMHReloadKeepsTheOrder(t *testing.T) {
	only := strings.Replace(mhSource(), `scheduler = "mh"`, `scheduler = "mh"`+"\nbackends = [\"l2\"]", 1)
	r := newRig(t, parse(t, only), nil)
	r.start()
	if got := r.table.list(5515); !slices.Equal(got, []string{"10.0.0.12:5515/1"}) {
		t.Fatalf("start: %v", got)
	}
	if err := r.d.Reload(t.Context(), parse(t, mhSource())); err != nil {
		t.Fatal(err)
	}
	r.waitFor("l1 added below l2", func() bool {
		return slices.Equal(r.table.list(5515), []string{"10.0.0.12:5515/1", "10.0.0.11:5515/1"})
	})
}
