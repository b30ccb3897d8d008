package filereplay

import (
	"bytes"
	"context"
	stdjpeg "image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"usbstream/internal/jpeg"
	"usbstream/internal/source/sourcetest"
)

// A replayed file is an MJPEG source like a camera: -rotate turns it. The
// test picture has a bright block in its top-left third; a quarter turn
// clockwise moves it to the top right.
func TestReplayIsRotatedLikeACamera(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.jpg"), testJPEG(t, 96, 48, 10), 0o644); err != nil {
		t.Fatal(err)
	}
	s := New(dir, 30).Transformed(jpeg.Transform{Rotate: 90}, 90, nil)
	rec := runFrames(t, s, 2)
	for _, f := range rec.Frames() {
		if f.Width != 48 || f.Height != 96 {
			t.Fatalf("frame says %dx%d, want the turned 48x96", f.Width, f.Height)
		}
		img, err := stdjpeg.Decode(bytes.NewReader(f.JPEG))
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != 48 || b.Dy() != 96 {
			t.Fatalf("decoded %v, want 48x96", b)
		}
		luma := func(x, y int) uint8 { r, _, _, _ := img.At(x, y).RGBA(); return uint8(r >> 8) }
		// The block (Y=200, reddish) is at x 40..47, y 0..31 after the turn.
		if tr, tl := luma(44, 10), luma(4, 10); tr < 150 || tr <= tl {
			t.Fatalf("top right is %d, top left %d: the bright block did not move to the top right", tr, tl)
		}
	}
	if i := s.Info(); i.Width != 48 || i.Height != 96 {
		t.Fatalf("Info says %dx%d, want 48x96", i.Width, i.Height)
	}
}

// Turning costs a decode and an encode per frame, so frames nobody wants
// are not turned (after the first, which a client finds at once).
func TestReplayTurnsOnlyWhatIsWanted(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.jpg"), testJPEG(t, 32, 16, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	s := New(dir, 30).Transformed(jpeg.Transform{Rotate: 180}, 90, func() bool { return false })
	c := useManualClock(s)
	rec := &sourcetest.Recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, rec) }()
	c.Advance(t, 5)
	rec.WaitIdle(t, 5)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Frames()); n != 1 {
		t.Fatalf("%d frames made with nobody watching, want only the first", n)
	}
	if rec.IdleCount() < 5 {
		t.Fatalf("%d idle ticks, want 5", rec.IdleCount())
	}
}
