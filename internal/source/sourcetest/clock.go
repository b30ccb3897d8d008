package sourcetest

import (
	"sync"
	"testing"
	"time"
)

// ManualClock lets a test decide when each frame of a self-paced source
// (test pattern, file replay) is due: the source makes one frame per value
// sent on Ticks, and Now advances by Step on every call. Sources keep their
// clock in fields (now, newTicker) that tests set to Now and NewTicker.
type ManualClock struct {
	Ticks chan time.Time

	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

// NewManualClock starts at start and advances by step per Now call.
func NewManualClock(start time.Time, step time.Duration) *ManualClock {
	return &ManualClock{Ticks: make(chan time.Time), t: start, step: step}
}

// Now advances the clock and returns the new time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

// NewTicker returns Ticks whatever the interval: frames come when the test
// sends.
func (c *ManualClock) NewTicker(time.Duration) (<-chan time.Time, func()) {
	return c.Ticks, func() {}
}

// Advance sends n ticks, failing the test if the source takes none for
// 10 s (stuck in a read), which would otherwise hang it.
func (c *ManualClock) Advance(t testing.TB, n int) {
	t.Helper()
	for range n {
		select {
		case c.Ticks <- time.Time{}:
		case <-time.After(10 * time.Second):
			t.Fatal("Run took no tick for 10 s")
		}
	}
}
