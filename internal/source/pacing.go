package source

import "time"

// DefaultFPS is the rate of a source that makes its own frames (test
// pattern, file replay) when the configured rate is not a positive number.
const DefaultFPS = 30.0

// MaxFPS bounds such a source's ticker: beyond it the encoder or the disk is
// the limit anyway.
const MaxFPS = 1000.0

// PacedFPS returns fps, or DefaultFPS when fps is not positive (or NaN),
// capped at MaxFPS.
func PacedFPS(fps float64) float64 {
	if !(fps > 0) {
		return DefaultFPS
	}
	return min(fps, MaxFPS)
}

// RealTicker paces a source that makes its own frames. A time.Ticker keeps
// at most one tick pending, so a slow encode or disk lowers the rate
// instead of building a backlog. Sources keep it in a field that tests
// replace to step frames by hand.
func RealTicker(d time.Duration) (ticks <-chan time.Time, stop func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// RateCap thins a faster stream of frames down to a frame rate, keeping
// frames on a fixed schedule so the average is exact and the gaps are as
// even as the input allows (a 30 fps camera capped at 24 drops one frame
// in five). The zero value, or a non-positive rate, lets everything through.
type RateCap struct {
	interval time.Duration
	due      time.Time
}

// NewRateCap caps at fps frames per second.
func NewRateCap(fps float64) RateCap {
	if !(fps > 0) {
		return RateCap{}
	}
	return RateCap{interval: time.Duration(float64(time.Second) / fps)}
}

// Allow reports whether a frame captured at t is kept.
func (c *RateCap) Allow(t time.Time) bool {
	if c.interval <= 0 {
		return true
	}
	// Frames come with jitter: one a little early for its slot still fills
	// it, or a camera at exactly the cap would lose every other frame.
	if t.Before(c.due.Add(-c.interval / 4)) {
		return false
	}
	if c.due.IsZero() || t.Sub(c.due) > c.interval {
		c.due = t // after a gap, start the schedule again from now
	}
	c.due = c.due.Add(c.interval)
	return true
}
