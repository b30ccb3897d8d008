package e2e

// -rotate and -flip work for every source, as a user sees them in a
// snapshot: a replayed file is turned like a camera's MJPEG frames, the
// test pattern visibly turns, and what a source cannot do is said in
// /status.

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func bright(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r>>8 > 180 && g>>8 > 180 && b>>8 > 180
}

func TestFileReplayIsRotatedAndFlipped(t *testing.T) {
	// A 320x240 picture, dark but for a white top-left quadrant.
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for y := range 240 {
		for x := range 320 {
			c := color.RGBA{20, 20, 60, 255}
			if x < 160 && y < 120 {
				c = color.RGBA{250, 250, 250, 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a.jpg"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args        []string
		w, h        int
		white, dark image.Point // a point in the white quadrant and one outside it
	}{
		{nil, 320, 240, image.Pt(40, 40), image.Pt(280, 40)},
		{[]string{"-rotate", "90"}, 240, 320, image.Pt(200, 40), image.Pt(40, 40)},
		{[]string{"-rotate", "180"}, 320, 240, image.Pt(280, 200), image.Pt(40, 40)},
		{[]string{"-flip", "h"}, 320, 240, image.Pt(280, 40), image.Pt(40, 40)},
		{[]string{"-rotate", "270", "-flip", "v"}, 240, 320, image.Pt(200, 280), image.Pt(40, 40)},
	} {
		t.Run(strings.Join(append([]string{"as-is"}, tc.args...), " "), func(t *testing.T) {
			s := start(t, append([]string{"-source", "file:" + dir, "-framerate", "5"}, tc.args...)...)
			got := snapshotImage(t, s)
			if sz := got.Bounds().Size(); sz != image.Pt(tc.w, tc.h) {
				t.Fatalf("snapshot is %v, want %dx%d", sz, tc.w, tc.h)
			}
			if !bright(got.At(tc.white.X, tc.white.Y)) || bright(got.At(tc.dark.X, tc.dark.Y)) {
				t.Fatalf("white quadrant not where %v puts it: %v at %v, %v at %v", tc.args,
					got.At(tc.white.X, tc.white.Y), tc.white, got.At(tc.dark.X, tc.dark.Y), tc.dark)
			}
			if st := getStatus(t, s).Source; st.Width != tc.w || st.Height != tc.h {
				t.Errorf("status says %dx%d, want %dx%d", st.Width, st.Height, tc.w, tc.h)
			}
		})
	}
}

// The test pattern is rendered upright and turned, so -rotate 90 shows its
// colour bars running down the picture instead of across it.
func TestTestPatternVisiblyRotates(t *testing.T) {
	upright := snapshotImage(t, start(t, "-source", "test", "-resolution", "320x240"))
	turned := snapshotImage(t, start(t, "-source", "test", "-resolution", "320x240", "-rotate", "90"))
	if sz := turned.Bounds().Size(); sz != image.Pt(240, 320) {
		t.Fatalf("turned pattern is %v, want 240x320", sz)
	}
	// Upright (x, y) is at (239-y, x) after a quarter turn clockwise: the
	// first and last bars, at the top of the upright picture, end up at
	// the top and bottom of the turned one's right edge.
	near := func(a, b color.Color) bool {
		ar, ag, ab, _ := a.RGBA()
		br, bg, bb, _ := b.RGBA()
		d := func(p, q uint32) bool { return max(p, q)-min(p, q) < 40<<8 }
		return d(ar, br) && d(ag, bg) && d(ab, bb)
	}
	first, last := upright.At(10, 10), upright.At(310, 10)
	if near(first, last) {
		t.Fatalf("the pattern's first and last bars look alike (%v, %v): the test cannot tell a turn", first, last)
	}
	if !near(turned.At(229, 10), first) || !near(turned.At(229, 310), last) {
		t.Fatalf("turned pattern has %v at the top right and %v at the bottom right, want the bars %v and %v",
			turned.At(229, 10), turned.At(229, 310), first, last)
	}
}

// Camera-only options given to the test pattern or a file replay are said
// in /status and the log, not silently ignored.
func TestCameraOnlyOptionsAreNotedForOtherSources(t *testing.T) {
	s := start(t, "-source", "test", "-format", "YUYV", "-control", "brightness=10")
	notes := getStatus(t, s).Source.Notes
	for _, want := range []string{"-format applies to cameras only", "-control applies to cameras only"} {
		if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, want) }) {
			t.Errorf("status notes %q lack %q", notes, want)
		}
		if !strings.Contains(s.output.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, s.output)
		}
	}
	replay := start(t, "-source", "file:"+t.TempDir(), "-resolution", "1280x720")
	if notes := getStatus(t, replay).Source.Notes; !slices.ContainsFunc(notes, func(n string) bool {
		return strings.Contains(n, "only size the placeholder")
	}) {
		t.Errorf("file replay with -resolution: notes %q do not say what -resolution does there", notes)
	}
}
