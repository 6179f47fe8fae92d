package director

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock that moves only when a test sets it. Its timers
// fire when it reaches their time; a test waits until the probers have
// armed theirs (they have done their round) before moving it on.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	changed chan struct{} // closed (and replaced) when a timer is armed
}

type fakeTimer struct {
	c     *fakeClock
	ch    chan time.Time
	at    time.Time
	armed bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC), changed: make(chan struct{})}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1)}
	c.mu.Lock()
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	t.Reset(d)
	return t
}

// set moves the clock to at and fires every timer due by then.
func (c *fakeClock) set(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = at
	for _, t := range c.timers {
		t.fireIfDue()
	}
}

// next is the earliest time an armed timer waits for.
func (c *fakeClock) next(t *testing.T) time.Time {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var at time.Time
	for _, x := range c.timers {
		if x.armed && (at.IsZero() || x.at.Before(at)) {
			at = x.at
		}
	}
	if at.IsZero() {
		t.Fatal("no timer armed")
	}
	return at
}

// waitArmed returns once n timers wait for a time still to come (a hang
// is go test's -timeout to report).
func (c *fakeClock) waitArmed(t *testing.T, n int) {
	t.Helper()
	for {
		c.mu.Lock()
		armed := 0
		for _, x := range c.timers {
			if x.armed {
				armed++
			}
		}
		ch := c.changed
		c.mu.Unlock()
		if armed >= n {
			return
		}
		<-ch
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.armed
	t.at, t.armed = t.c.now.Add(d), true
	t.fireIfDue()
	if t.armed {
		close(t.c.changed)
		t.c.changed = make(chan struct{})
	}
	return was
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.armed
	t.armed = false
	return was
}

// fireIfDue runs with c.mu held.
func (t *fakeTimer) fireIfDue() {
	if !t.armed || t.at.After(t.c.now) {
		return
	}
	t.armed = false
	select {
	case t.ch <- t.c.now:
	default:
	}
}
