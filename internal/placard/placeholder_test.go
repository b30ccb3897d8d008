package placard_test

import (
	"bytes"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"strings"
	"testing"
	"time"

	"usbstream/internal/jpeg"
	"usbstream/internal/placard"
)

// luma decodes b and returns its luma at every pixel.
func luma(t *testing.T, b []byte) (image.Image, func(x, y int) uint8) {
	t.Helper()
	img, err := stdjpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return img, func(x, y int) uint8 {
		return color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y
	}
}

func TestPlaceholder(t *testing.T) {
	now := mustTime(t, "2024-05-06T07:08:09Z")
	reason := "open /dev/video0: no such file or directory"
	for _, size := range []image.Point{{320, 240}, {640, 480}, {1280, 720}, {1920, 1080}, {3840, 2160}, {333, 201}, {160, 120}} {
		t.Run(size.String(), func(t *testing.T) {
			b, err := placard.Placeholder(size.X, size.Y, "CAMERA OFFLINE", reason, now)
			if err != nil {
				t.Fatal(err)
			}
			img, y := luma(t, b)
			if got := img.Bounds().Size(); got != size {
				t.Fatalf("placeholder is %v, want %v", got, size)
			}
			// Corners are background.
			for _, p := range []image.Point{{0, 0}, {size.X - 1, 0}, {0, size.Y - 1}, {size.X - 1, size.Y - 1}, {size.X / 20, size.Y / 20}} {
				if v := y(p.X, p.Y); v > 50 {
					t.Errorf("corner %v has luma %d, want dark", p, v)
				}
			}
			// The middle holds text: a fair share of bright pixels.
			bright, total := 0, 0
			for yy := size.Y / 4; yy < size.Y*3/4; yy++ {
				for xx := size.X / 4; xx < size.X*3/4; xx++ {
					total++
					if y(xx, yy) > 180 {
						bright++
					}
				}
			}
			if bright*100 < total {
				t.Errorf("only %d of %d middle pixels are bright; no readable text", bright, total)
			}
		})
	}
}

func TestPlaceholderDefaultsAndLimits(t *testing.T) {
	now := mustTime(t, "2024-05-06T07:08:09Z")
	def, err := placard.Placeholder(320, 240, "", "x", now)
	if err != nil {
		t.Fatal(err)
	}
	named, err := placard.Placeholder(320, 240, "CAMERA OFFLINE", "x", now)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(def, named) {
		t.Error(`an empty title is not drawn as "CAMERA OFFLINE"`)
	}
	other, _ := placard.Placeholder(320, 240, "CAMERA STARTING", "x", now)
	if bytes.Equal(other, named) {
		t.Error("the title is not drawn")
	}
	later, _ := placard.Placeholder(320, 240, "", "x", now.Add(time.Second))
	if bytes.Equal(later, named) {
		t.Error("the time is not drawn")
	}

	// Huge and hostile reasons and titles still render.
	huge := strings.Repeat("averyveryverylongwordwithoutspaces ", 5000) + "\x00\x1b[31m\n\tü"
	for _, size := range []image.Point{{1, 1}, {16, 16}, {320, 240}, {3840, 2160}} {
		b, err := placard.Placeholder(size.X, size.Y, huge, huge, now)
		if err != nil {
			t.Fatalf("%v: %v", size, err)
		}
		if w, h, err := jpeg.Dimensions(b); err != nil || w != size.X || h != size.Y {
			t.Fatalf("%v: Dimensions = %d, %d, %v", size, w, h, err)
		}
	}
	for _, size := range []image.Point{{0, 240}, {320, 0}, {-1, 5}, {20000, 100}} {
		if _, err := placard.Placeholder(size.X, size.Y, "", "", now); err == nil {
			t.Errorf("Placeholder(%v) did not fail", size)
		}
	}
}
func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
