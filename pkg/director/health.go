package director

import "github.com/hala-lb/hala/pkg/check"

// health is one backend × input's rise/fall state.
type health struct {
	up bool
	// run counts consecutive results against the current state.
	run int
	// seen is set once a result has been observed.
	seen bool
	// weight is the last load weight of an input some weights = "load"
	// service uses (0: none yet).
	weight int
}

// observe records one check result and reports whether the state changed:
// an up backend goes down after fall failures in a row, a down one comes
// up after rise successes in a row. A result that agrees with the state
// resets the count, so a failure during rise starts the rise over.
func (h *health) observe(ok bool, rise, fall int) bool {
	h.seen = true
	if ok == h.up {
		h.run = 0
		return false
	}
	h.run++
	need := fall
	if !h.up {
		need = rise
	}
	if h.run < need {
		return false
	}
	h.up, h.run = ok, 0
	return true
}

// start sets the state from the first round of checks at start-up, given
// whether the kernel table already has the backend. A passing backend is
// up at once (it has been seen healthy, and a restart must not take it out
// for rise intervals); a failing one that is in the table counts one
// failure towards fall, so a single transient failure at restart does not
// remove it; a failing one not in the table stays out.
func (h *health) start(inTable, ok bool, fall int) {
	h.seen = true
	h.up = inTable
	h.run = 0
	if ok {
		h.up = true
		return
	}
	if inTable {
		h.observe(false, 1, fall)
	}
}

// noteWeight keeps a healthy verdict's load weight and reports whether it
// changed (a failing verdict has none: the last one stays).
func (h *health) noteWeight(v *check.Verdict) bool {
	if !v.Healthy || v.Weight < 1 || v.Weight == h.weight {
		return false
	}
	h.weight = v.Weight
	return true
}
