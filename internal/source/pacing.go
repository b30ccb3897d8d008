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
