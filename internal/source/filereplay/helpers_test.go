package filereplay

import (
	"context"
	"image"
	"image/color"
	"testing"
	"time"

	"usbstream/internal/jpeg"
	"usbstream/internal/placard"
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
	placard.FillRect(img, image.Rect(0, 0, w/3, h/3), color.YCbCr{Y: 200, Cb: seed, Cr: 255 - seed})
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

// runFrames runs s by hand until it has published n frames, then cancels it.
func runFrames(t *testing.T, s *Source, n int) *sourcetest.Recorder {
	t.Helper()
	return sourcetest.RunFrames(t, s.Run, useManualClock(s), n)
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
