// Package meter measures event rates (frames per second) cheaply enough to
// be ticked once per frame per client.
package meter

import (
	"sync"
	"time"
)

// window is how long events are counted before the rate is updated; one
// second matches what people mean by "fps" and smooths per-frame jitter.
const window = time.Second

// Rate counts events and reports their rate over the last complete window.
// The zero value is ready to use and safe for concurrent use.
type Rate struct {
	mu    sync.Mutex
	start time.Time // start of the window being counted
	n     int       // events in that window
	rate  float64   // events per second in the last complete window
}

// Tick records one event at now.
func (r *Rate) Tick(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.roll(now)
	r.n++
}

// PerSecond returns the rate at now. When events stop, the rate falls to zero
// within two windows instead of freezing at its last value.
func (r *Rate) PerSecond(now time.Time) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.roll(now)
	return r.rate
}

func (r *Rate) roll(now time.Time) {
	if r.start.IsZero() {
		r.start = now
		return
	}
	elapsed := now.Sub(r.start)
	if elapsed < window {
		return
	}
	if elapsed < 2*window {
		r.rate = float64(r.n) / elapsed.Seconds()
	} else {
		// Whole windows passed with the events of only the first: the rate
		// of the most recent complete window is zero.
		r.rate = 0
	}
	r.n = 0
	r.start = now
}
