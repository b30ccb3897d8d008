// Package testpattern is the built-in moving test pattern: what a new user
// sees before a camera is configured, and the source benchmarks use. Each
// frame shows colour bars, a box that moves one step per frame (so stalls
// and dropped frames are visible), the frame number, the wall-clock time
// and the configured size and rate.
package testpattern

import (
	"context"
	"fmt"
	"time"

	"usbstream/internal/frame"
	"usbstream/internal/jpeg"
	"usbstream/internal/source"
)

const (
	// DefaultQuality is used when the configured quality is outside 1..100.
	DefaultQuality = 80
	// maxSide keeps a typo in the configured size from allocating
	// gigabytes; it is above any camera this program serves.
	maxSide = 16384
)

// Source renders the test pattern. Create it with New.
type Source struct {
	width, height int
	fps           float64
	quality       int
	// demand, if set, reports whether anyone may want frames now; see
	// FollowDemand.
	demand func() bool
	// transform turns every frame after rendering; see Transformed.
	transform jpeg.Transform

	// now and newTicker are the clock; tests replace them to step frames by
	// hand instead of waiting for real time.
	now       func() time.Time
	newTicker func(time.Duration) (ticks <-chan time.Time, stop func())
}

// New returns a test pattern of width×height pixels at fps frames per
// second, encoded at JPEG quality 1..100. A non-positive fps or an
// out-of-range quality selects source.DefaultFPS or DefaultQuality; an invalid
// size is reported by Run, where the supervisor shows it.
func New(width, height int, fps float64, quality int) *Source {
	fps = source.PacedFPS(fps)
	if quality < 1 || quality > 100 {
		quality = DefaultQuality
	}
	return &Source{
		width: width, height: height, fps: fps, quality: quality,
		now:       time.Now,
		newTicker: source.RealTicker,
	}
}

// FollowDemand makes the pattern render only while demand says someone may
// want frames, as a camera encodes raw frames only then. The pattern is
// what a newcomer runs first, and rendering and encoding it unwatched
// cost about a third of a core. Unwatched ticks are reported as Idle, so
// the source still counts as streaming. It returns s.
func (s *Source) FollowDemand(demand func() bool) *Source {
	s.demand = demand
	return s
}

// Transformed makes the pattern turn and flip every frame as a camera's
// frames are (-rotate, -flip): the pattern is rendered upright at its size,
// so its text shows the option at work. It returns s.
func (s *Source) Transformed(t jpeg.Transform) *Source {
	s.transform = t
	return s
}

// Info describes the pattern; it never changes.
func (s *Source) Info() source.Info {
	w, h := s.outputSize()
	return source.Info{
		Kind: "test", Device: "test pattern", Format: "JPEG",
		Width: w, Height: h, FPS: s.fps,
	}
}

// outputSize is the size of the frames, after the transform.
func (s *Source) outputSize() (int, int) {
	if s.transform.SwapsSize() {
		return s.height, s.width
	}
	return s.width, s.height
}

// Run renders and publishes frames until ctx is cancelled. The first frame
// is sent at once, then one per tick. A time.Ticker keeps at most one tick
// pending, so when encoding is slower than the frame interval the rate drops
// to what the encoder manages instead of queueing a backlog. Cancellation is
// noticed between frames, so Run returns within one frame's render and
// encode time.
func (s *Source) Run(ctx context.Context, sink source.Sink) error {
	if ctx.Err() != nil {
		return nil
	}
	if s.width < 1 || s.height < 1 || s.width > maxSide || s.height > maxSide {
		return fmt.Errorf("test pattern size %dx%d is invalid: width and height must be 1..%d",
			s.width, s.height, maxSide)
	}
	r := newRenderer(s.width, s.height, s.fps)
	w, h := s.outputSize()
	ticks, stop := s.newTicker(interval(s.fps))
	defer stop()
	for n := uint64(1); ; n++ {
		now := s.now()
		// The first frame is always made, so a client finds one at once.
		if n == 1 || s.demand == nil || s.demand() {
			jpg, err := jpeg.EncodeTransformed(r.render(n, now), s.quality, s.transform)
			if err != nil {
				return fmt.Errorf("test pattern: %w", err)
			}
			sink.Frame(&frame.Frame{JPEG: jpg, Captured: now, Width: w, Height: h})
		} else {
			sink.Idle(now)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
		}
	}
}

func interval(fps float64) time.Duration {
	return max(time.Millisecond, time.Duration(float64(time.Second)/fps))
}
