package reconcile

import (
	"net/netip"
	"slices"
	"strconv"
)

// Ordered reports whether the scheduler builds its lookup table from the
// order of the service's destination list, so that two directors with
// the same destinations in another order pick other backends for the same
// flow: mh (Maglev hashing: in each round the destinations claim their
// next preferred slot in list order, and a contested slot goes to the
// first) and sh (it deals the buckets out in list order).
//
// The kernel adds a destination at the head of the list
// (ip_vs_ctl.c, __ip_vs_update_dest: list_add_rcu) and lists them from
// the head, so the list is the reverse of the order they were added in.
// hala keeps one canonical order for these services: added in ascending
// address:port order, which ipvsadm -Ln lists from the highest down.
func Ordered(scheduler string) bool { return scheduler == "mh" || scheduler == "sh" }

// orderChanges plans an ordered service's destinations (see Ordered):
// updates in place for the destinations that already sit in canonical
// order, then, from the first one that does not (a destination missing
// from the kernel, one added after a higher one, one re-added after a
// health transition that removed it), every destination from there up
// re-added in ascending order, each existing one deleted just before
// its re-add so that its connections are without a destination for one
// request only; then the deletes of destinations no longer wanted.
//
// A destination added at weight 0 would enter mh's table with weight 0
// (the kernel builds the table from each destination's last non-zero
// weight, and an add sets it whatever the weight), that is not at all,
// unlike on a director that saw it healthy first. So on an mh service
// with Entry.TableWeight set, a destination wanted at weight 0 is added
// at TableWeight and then set to 0.
func orderChanges(want, have Entry) []Change {
	haveIdx := make(map[netip.AddrPort]int, len(have.Destinations))
	for i, d := range have.Destinations {
		haveIdx[d.Key()] = i
	}
	wantKeys := make(map[netip.AddrPort]bool, len(want.Destinations))
	for _, d := range want.Destinations {
		wantKeys[d.Key()] = true
	}
	// The destinations that stay, in the order the kernel added them.
	added := have.added
	if added == nil {
		added = make([]netip.AddrPort, len(have.Destinations))
		for i, d := range have.Destinations {
			added[i] = d.Key()
		}
	}
	var kept []netip.AddrPort
	for _, k := range added {
		if wantKeys[k] {
			kept = append(kept, k)
		}
	}
	// want.Destinations is sorted: the canonical add order.
	n := 0
	for n < len(kept) && n < len(want.Destinations) && kept[n] == want.Destinations[n].Key() {
		n++
	}
	var out, deletes []Change
	for _, d := range want.Destinations[:n] {
		if fs := destinationFields(have.Destinations[haveIdx[d.Key()]], d); len(fs) > 0 {
			out = append(out, destChange(Update, want, d, fs))
		}
	}
	for _, d := range want.Destinations[n:] {
		if i, ok := haveIdx[d.Key()]; ok {
			c := destChange(Delete, want, have.Destinations[i], nil)
			c.Reorder = true
			out = append(out, c)
		}
		add := d
		quiesced := d.Weight == 0 && want.TableWeight > 0
		if quiesced {
			add.Weight = want.TableWeight
		}
		c := destChange(Add, want, add, nil)
		_, c.Reorder = haveIdx[d.Key()]
		out = append(out, c)
		if quiesced {
			out = append(out, destChange(Update, want, d, []Field{{"weight", strconv.Itoa(add.Weight), "0"}}))
		}
	}
	for _, d := range have.Destinations {
		if !wantKeys[d.Key()] {
			deletes = append(deletes, destChange(Delete, want, d, nil))
		}
	}
	slices.SortFunc(deletes, func(a, b Change) int { return a.Destination.Key().Compare(b.Destination.Key()) })
	return append(out, deletes...)
}

// kernelOrder records, for a service read from the kernel, the order its
// destinations were added in (the reverse of the kernel's list), before
// the table is sorted. It is kept for every service, not only ordered
// ones: an edit that changes the scheduler to mh must see the order too.
func kernelOrder(e *Entry) {
	e.added = make([]netip.AddrPort, len(e.Destinations))
	for i, d := range e.Destinations {
		e.added[len(e.Destinations)-1-i] = d.Key()
	}
}
