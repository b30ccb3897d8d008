package filereplay

import (
	"context"
	"image"
	"image/color"
	"testing"
	"time"

	"usbstream/internal/jpeg"
	"usbstream/internal/source"
	"usbstream/internal/source/sourcetest"
)

var _ source.Source = (*Source)(nil)

// testJPEG encodes a w×h image whose content depends on seed. Tests tell
// frames apart by their width.
func testJPEG(t testing.TB, w, h int, seed uint8) []byte {
	t.Helper()
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Y[img.YOffset(x, y)] = uint8(x*7+y*3) + seed
		}
	}
	jpeg.FillRect(img, image.Rect(0, 0, w/3, h/3), color.YCbCr{Y: 200, Cb: seed, Cr: 255 - seed})
	b, err := jpeg.Encode(img, 80)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// useManualClock steps s's frames by hand; its clock advances 1 ms per read.
func useManualClock(s *Source) *sourcetest.ManualClock {
	c := sourcetest.NewManualClock(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), time.Millisecond)
	s.now, s.newTicker = c.Now, c.NewTicker
	return c
}

// runFrames runs s until it has published n frames, then cancels it. It
// fails the test if Run returns before that.
func runFrames(t *testing.T, s *Source, n int) *sourcetest.Recorder {
	t.Helper()
	c := useManualClock(s)
	rec := &sourcetest.Recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, rec) }()
	// The first frame needs no tick; each unbuffered send returns once the
	// previous frame has been handed to the sink.
	for range n - 1 {
		select {
		case c.Ticks <- time.Time{}:
		case err := <-done:
			t.Fatalf("Run returned early after %d frames: %v", rec.Count(), err)
		}
	}
	// The last frame is read after the last tick: wait for it before
	// cancelling, as Run does not publish a frame it read after a cancel.
	waitFrames(t, rec, n)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
	if got := rec.Count(); got != n {
		t.Fatalf("got %d frames, want %d", got, n)
	}
	return rec
}

// runErr runs s, which is expected to fail without needing a tick.
func runErr(t *testing.T, s *Source) (error, *sourcetest.Recorder) {
	t.Helper()
	useManualClock(s)
	rec := &sourcetest.Recorder{}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background(), rec) }()
	select {
	case err := <-done:
		return err, rec
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not fail")
		return nil, nil
	}
}

// waitFrames waits until rec holds n frames; the deadline only catches a
// hang.
func waitFrames(t *testing.T, rec *sourcetest.Recorder, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for rec.Count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out with %d of %d frames", rec.Count(), n)
		}
		time.Sleep(time.Millisecond)
	}
}
