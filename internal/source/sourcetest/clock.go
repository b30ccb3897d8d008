package sourcetest

import (
	"sync"
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
