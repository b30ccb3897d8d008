package testpattern

import (
	"bytes"
	"context"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"usbstream/internal/frame"
	"usbstream/internal/jpeg"
	"usbstream/internal/source"
	"usbstream/internal/source/sourcetest"
)

var _ source.Source = (*Source)(nil)

var clockStart, clockStep = time.Date(2024, 5, 6, 7, 8, 9, 0, time.Local), 40 * time.Millisecond

// useManualClock steps s's frames by hand; its clock advances 40 ms (one
// frame at 25 fps) per read.
func useManualClock(s *Source) *sourcetest.ManualClock {
	c := sourcetest.NewManualClock(clockStart, clockStep)
	s.now, s.newTicker = c.Now, c.NewTicker
	return c
}

// runFrames runs s by hand until it has produced n frames, then cancels it.
func runFrames(t *testing.T, s *Source, c *sourcetest.ManualClock, n int) *sourcetest.Recorder {
	t.Helper()
	return sourcetest.RunFrames(t, s.Run, c, n)
}

func decode(t *testing.T, f *frame.Frame) image.Image {
	t.Helper()
	img, err := stdjpeg.Decode(bytes.NewReader(f.JPEG))
	if err != nil {
		t.Fatalf("frame does not decode: %v", err)
	}
	return img
}

// brightCentroid is the mean x of the near-white pixels on row y: the moving
// box is the only thing that white in the castellation band.
func brightCentroid(img image.Image, y int) float64 {
	sum, n := 0, 0
	for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
		r, g, b, _ := img.At(x, y).RGBA()
		if r>>8 > 230 && g>>8 > 230 && b>>8 > 230 {
			sum += x
			n++
		}
	}
	if n == 0 {
		return -1
	}
	return float64(sum) / float64(n)
}

func TestFrames(t *testing.T) {
	const w, h = 640, 480
	s := New(w, h, 25, 85)
	c := useManualClock(s)
	rec := runFrames(t, s, c, 5)
	if len(rec.Drops()) != 0 {
		t.Fatalf("dropped %v", rec.Drops())
	}

	geom := newRenderer(w, h, 25)
	bandY := (geom.band.Min.Y + geom.band.Max.Y) / 2
	var prev float64
	for i, f := range rec.Frames() {
		n := uint64(i + 1)
		if f.Width != w || f.Height != h || f.Placeholder {
			t.Fatalf("frame %d: %dx%d placeholder=%v", n, f.Width, f.Height, f.Placeholder)
		}
		if err := jpeg.Check(f.JPEG); err != nil {
			t.Fatalf("frame %d: %v", n, err)
		}
		img := decode(t, f)
		if got := img.Bounds().Size(); got != image.Pt(w, h) {
			t.Fatalf("frame %d decodes to %v", n, got)
		}
		if want := clockStart.Add(time.Duration(n) * clockStep); !f.Captured.Equal(want) {
			t.Fatalf("frame %d Captured = %v, want %v", n, f.Captured, want)
		}
		// The box is where the geometry says, and moves one step per frame.
		got := brightCentroid(img, bandY)
		want := float64(geom.boxX(n)) + float64(geom.boxW-1)/2
		if got < want-1.5 || got > want+1.5 {
			t.Fatalf("frame %d: box centred at x=%.1f, want %.1f", n, got, want)
		}
		if i > 0 {
			if d := got - prev; d < float64(geom.step)-1 || d > float64(geom.step)+1 {
				t.Fatalf("frame %d: box moved %.1f px, want %d", n, d, geom.step)
			}
		}
		prev = got
	}
	if bytes.Equal(rec.Frames()[0].JPEG, rec.Frames()[1].JPEG) {
		t.Fatal("consecutive frames are identical")
	}
}

func TestTextChangesEveryFrame(t *testing.T) {
	const w, h = 320, 240
	r := newRenderer(w, h, 30)
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	a := bytes.Clone(r.render(1, now).Y)
	b := bytes.Clone(r.render(2, now).Y)
	c := bytes.Clone(r.render(2, now.Add(time.Millisecond)).Y)
	// Only the counter line differs between a and b (besides the box); only
	// the clock line between b and c.
	rowsChanged := func(x, y []byte) (first, last int) {
		first, last = -1, -1
		for row := 0; row < r.band.Min.Y; row++ {
			if !bytes.Equal(x[row*w:(row+1)*w], y[row*w:(row+1)*w]) {
				if first < 0 {
					first = row
				}
				last = row
			}
		}
		return
	}
	if f, l := rowsChanged(a, b); f < r.lineY[0] || l >= r.lineY[1] {
		t.Fatalf("a new frame number changed rows %d..%d, want within the counter line from %d", f, l, r.lineY[0])
	}
	if f, l := rowsChanged(b, c); f < r.lineY[1] || l >= r.lineY[2] {
		t.Fatalf("a new time changed rows %d..%d, want within the clock line from %d", f, l, r.lineY[1])
	}
}

func TestInfoAndDefaults(t *testing.T) {
	info := New(1280, 720, 15, 80).Info()
	want := source.Info{Kind: "test", Device: "test pattern", Format: "JPEG", Width: 1280, Height: 720, FPS: 15}
	if !reflect.DeepEqual(info, want) {
		t.Fatalf("Info = %+v, want %+v", info, want)
	}
	s := New(64, 48, 0, 0)
	if s.Info().FPS != source.DefaultFPS || s.quality != DefaultQuality {
		t.Fatalf("defaults: fps %v quality %d", s.Info().FPS, s.quality)
	}
	if got := interval(New(8, 8, 1e9, 80).fps); got < time.Millisecond {
		t.Fatalf("interval %v for a huge fps", got)
	}
}

func TestInvalidSize(t *testing.T) {
	for _, size := range []image.Point{{0, 480}, {640, -1}, {100000, 10}} {
		err := New(size.X, size.Y, 30, 80).Run(context.Background(), &sourcetest.Recorder{})
		if err == nil || !strings.Contains(err.Error(), "invalid") {
			t.Fatalf("Run at %v = %v, want an error about the size", size, err)
		}
	}
}

func TestSmallSizes(t *testing.T) {
	// Text and box are clipped, never out of bounds.
	for _, size := range []image.Point{{1, 1}, {2, 2}, {7, 3}, {33, 17}} {
		s := New(size.X, size.Y, 30, 80)
		rec := runFrames(t, s, useManualClock(s), 2)
		if img := decode(t, rec.Frames()[1]); img.Bounds().Size() != size {
			t.Fatalf("%v: decoded %v", size, img.Bounds().Size())
		}
	}
}

func TestCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := &sourcetest.Recorder{}
	if err := New(64, 48, 30, 80).Run(ctx, rec); err != nil || rec.Count() != 0 {
		t.Fatalf("Run = %v with %d frames, want nil and none", err, rec.Count())
	}
}

// TestRunRealClock runs with the real ticker (on synctest's fake clock):
// the first frame at once, then one every 1/fps, and cancel ends Run.
func TestRunRealClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		rec := sourcetest.RunUntil(t, New(160, 120, 100, 80).Run, 3)
		for i, f := range rec.Frames() {
			if at := f.Captured.Sub(start); at != time.Duration(i)*10*time.Millisecond {
				t.Fatalf("frame %d captured %v after the start, want %v at 100 fps", i, at, time.Duration(i)*10*time.Millisecond)
			}
		}
	})
}

// BenchmarkFrame measures one frame: render plus encode, as Run does it.
func BenchmarkFrame(b *testing.B) {
	for _, size := range []image.Point{{1280, 720}, {640, 480}} {
		b.Run(fmt.Sprintf("%dx%d", size.X, size.Y), func(b *testing.B) {
			r := newRenderer(size.X, size.Y, 30)
			var n uint64
			for b.Loop() {
				n++
				if _, err := jpeg.Encode(r.render(n, time.Now()), DefaultQuality); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRender is the render alone, to show it is small next to encoding.
func BenchmarkRender(b *testing.B) {
	r := newRenderer(1280, 720, 30)
	var n uint64
	for b.Loop() {
		n++
		r.render(n, time.Now())
	}
}

func TestRendersOnlyOnDemand(t *testing.T) {
	var wanted atomic.Bool
	s := New(64, 48, 25, 80).FollowDemand(wanted.Load)
	c := useManualClock(s)
	rec := &sourcetest.Recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, rec) }()
	// Nobody watching: the first frame, then only idle ticks.
	c.Advance(t, 10)
	rec.WaitIdle(t, 9)
	if got, idle := rec.Count(), rec.IdleCount(); got != 1 || idle < 9 {
		t.Fatalf("unwatched: %d frames and %d idle ticks after 10 ticks, want 1 frame and the rest idle", got, idle)
	}
	wanted.Store(true)
	c.Advance(t, 5)
	rec.WaitFrames(t, 6)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// -rotate shows on the pattern: it is rendered upright and turned, so its
// text and bars turn with it (not just its size). The bars run left to
// right upright; after a quarter turn clockwise they run top to bottom.
func TestRotatedPatternIsTurned(t *testing.T) {
	frameOf := func(s *Source) *frame.Frame { return runFrames(t, s, useManualClock(s), 1).Frames()[0] }
	// Both are frame 1 at the same clock: the same picture but for the turn.
	upright := frameOf(New(320, 240, 25, 90))
	turned := frameOf(New(320, 240, 25, 90).Transformed(jpeg.Transform{Rotate: 90}))
	if turned.Width != 240 || turned.Height != 320 {
		t.Fatalf("turned frame says %dx%d, want 240x320", turned.Width, turned.Height)
	}
	a, aok := decode(t, upright).(*image.YCbCr)
	b, bok := decode(t, turned).(*image.YCbCr)
	if !aok || !bok {
		t.Fatal("frames do not decode to YCbCr")
	}
	if got := b.Bounds().Size(); got.X != 240 || got.Y != 320 {
		t.Fatalf("turned picture is %v, want 240x320", got)
	}
	// Turning (x, y) of the upright picture a quarter clockwise puts it at
	// (h-1-y, x). Compare the luma of points all over the picture.
	var same, total int
	for y := 3; y < 237; y += 7 {
		for x := 3; x < 317; x += 11 {
			total++
			ua := a.Y[a.YOffset(x, y)]
			ub := b.Y[b.YOffset(239-y, x)]
			if d := int(ua) - int(ub); d > -24 && d < 24 {
				same++
			}
		}
	}
	if same < total*9/10 {
		t.Fatalf("only %d of %d points of the turned frame match the upright one turned clockwise", same, total)
	}
}
