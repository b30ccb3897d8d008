package camera

import (
	"bytes"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"math"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"usbstream/internal/jpeg"
	"usbstream/internal/source/sourcetest"
)

// halfWhite is a w x h picture whose left half is white and right half
// black, so that a quarter turn shows where the left went.
func halfWhite(w, h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			if x < w/2 {
				img.SetGray(x, y, color.Gray{Y: 235})
			} else {
				img.SetGray(x, y, color.Gray{Y: 16})
			}
		}
	}
	return img
}

func halfWhiteJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := stdjpeg.Encode(&b, halfWhite(w, h), &stdjpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// halfWhiteYUYV is the same picture as a camera's YUYV buffer.
func halfWhiteYUYV(w, h int) []byte {
	img := halfWhite(w, h)
	out := make([]byte, 0, 2*w*h)
	for y := range h {
		for x := 0; x < w; x += 2 {
			out = append(out, img.GrayAt(x, y).Y, 128, img.GrayAt(x+1, y).Y, 128)
		}
	}
	return out
}

// Rotating or flipping costs a decode and an encode per frame (an MJPEG
// frame is decoded, turned and encoded again; a raw one is encoded anyway),
// so nobody watching means no frame is published and the sink is told the
// frame was idle, whichever the format: the check is one place for both.
// Watched, the frames come turned. An MJPEG frame that needs no work is
// passed through watched or not, as it costs nothing and keeps the latest
// frame fresh for the next snapshot.
func TestFramePathTransformsOnlyWhileWatched(t *testing.T) {
	const w, h = 64, 32
	mjpg := pixFormat{FourCC: fourCCCode("MJPG"), Width: w, Height: h}
	yuyv := pixFormat{FourCC: fourCCCode("YUYV"), Width: w, Height: h, BytesPerLine: 2 * w, SizeImage: 2 * w * h}
	jpg, raw := halfWhiteJPEG(t, w, h), halfWhiteYUYV(w, h)
	quarter := jpeg.Transform{Rotate: 90}
	for _, tc := range []struct {
		name string
		got  pixFormat
		data []byte
		soft jpeg.Transform
		// idleUnwatched: no frame and one idle report without a viewer
		idleUnwatched bool
		w, h          int
	}{
		{"MJPEG rotated", mjpg, jpg, quarter, true, h, w},
		{"MJPEG mirrored", mjpg, jpg, jpeg.Transform{FlipV: true}, true, w, h},
		{"YUYV rotated", yuyv, raw, quarter, true, h, w},
		{"YUYV as is", yuyv, raw, jpeg.Transform{}, true, w, h},
		{"MJPEG as is", mjpg, jpg, jpeg.Transform{}, false, w, h},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var watched atomic.Bool
			take := func() *sourcetest.Recorder {
				rec := &sourcetest.Recorder{}
				p := newFramePath(t.Context(), tc.got, rec, watched.Load)
				p.soft = tc.soft
				if !p.take(slices.Clone(tc.data), time.Now()) {
					t.Fatalf("a good frame was not usable (drops %v)", rec.Drops())
				}
				p.close() // waits for the encoders
				if d := rec.Drops(); len(d) > 0 {
					t.Fatalf("dropped: %v", d)
				}
				return rec
			}

			rec := take()
			if tc.idleUnwatched {
				if rec.Count() != 0 || rec.IdleCount() != 1 {
					t.Fatalf("nobody watching: %d frames published, %d idle; want none published, 1 idle", rec.Count(), rec.IdleCount())
				}
			} else if rec.Count() != 1 || rec.IdleCount() != 0 {
				t.Fatalf("nobody watching: %d frames published, %d idle; want it passed through", rec.Count(), rec.IdleCount())
			}

			watched.Store(true)
			rec = take()
			if rec.Count() != 1 || rec.IdleCount() != 0 {
				t.Fatalf("watched: %d frames published, %d idle; want 1 published", rec.Count(), rec.IdleCount())
			}
			f := rec.Frames()[0]
			img := decodeFrame(t, f)
			if f.Width != tc.w || f.Height != tc.h {
				t.Fatalf("published %dx%d, want %dx%d", f.Width, f.Height, tc.w, tc.h)
			}
			if tc.soft == quarter {
				// A quarter turn clockwise puts the white left half on top.
				if top, bottom := luma(img, tc.w/2, 2), luma(img, tc.w/2, tc.h-3); top < 200 || bottom > 60 {
					t.Fatalf("rotated frame: top %d, bottom %d; want white above black", top, bottom)
				}
			}
		})
	}
}

func luma(img image.Image, x, y int) uint8 {
	return color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y
}

// V4L2 numbers every frame the driver captures, so the gaps between the
// numbers of the frames it hands over are its drops. The count starts at
// the first frame of a stream (an open starts a new one), survives the
// 32-bit wraparound, and does not take a number going back for billions
// of drops.
func TestSequenceGapsAreTheDriversDrops(t *testing.T) {
	const top = math.MaxUint32
	for _, tc := range []struct {
		name string
		seqs []uint32
		want []uint32
	}{
		{"the first frame starts the count, whatever its number", []uint32{7, 8, 9}, []uint32{0, 0, 0}},
		{"a step of k+1 is k drops", []uint32{0, 1, 4, 5, 15}, []uint32{0, 0, 2, 0, 9}},
		{"across the wraparound", []uint32{top - 1, top, 0, 3}, []uint32{0, 0, 0, 2}},
		{"a gap across the wraparound", []uint32{top - 1, 1}, []uint32{0, 2}},
		{"a driver counting again from 0", []uint32{500, 501, 0, 1, 3}, []uint32{0, 0, 0, 0, 1}},
		{"a driver that numbers nothing", []uint32{0, 0, 0, 0}, []uint32{0, 0, 0, 0}},
		{"a number repeated", []uint32{5, 5, 6, 8}, []uint32{0, 0, 0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g sequenceGaps
			var got []uint32
			for _, s := range tc.seqs {
				got = append(got, g.skipped(s))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("sequence %v: drops %v, want %v", tc.seqs, got, tc.want)
			}
		})
	}
}
