package jpeg_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"math"
	"strings"
	"sync"
	"testing"

	"usbstream/internal/jpeg"
)

var rawFormats = []string{"YUYV", "NV12", "YU12", "GREY", "RGB3", "BGR3"}

// padByte fills the bytes between rows, which no encoder may read.
const padByte = 0xE7

// rawFrame builds a camera frame of the given format from the picture f,
// the way a V4L2 driver lays it out, with pad junk bytes after every row
// (pad 0 means Stride 0, packed rows). Chroma is the mean over the pixels
// that share it, as a camera's ISP computes it.
func rawFrame(f func(x, y int) color.RGBA, w, h int, format string, pad int) jpeg.Raw {
	ycc := func(x, y int) (uint8, uint8, uint8) {
		c := f(x, y)
		return color.RGBToYCbCr(c.R, c.G, c.B)
	}
	// chroma averages the samples of the pixels in [x, x+dx) × [y, y+dy).
	chroma := func(x, y, dx, dy int) (uint8, uint8) {
		var su, sv, n int
		for j := y; j < min(y+dy, h); j++ {
			for i := x; i < min(x+dx, w); i++ {
				_, u, v := ycc(i, j)
				su, sv, n = su+int(u), sv+int(v), n+1
			}
		}
		return uint8((su + n/2) / n), uint8((sv + n/2) / n)
	}
	filled := func(n int) []byte { return bytes.Repeat([]byte{padByte}, n) }
	var stride int
	var data []byte
	switch format {
	case "RGB3", "BGR3":
		stride = 3*w + pad
		data = filled(stride * h)
		for y := range h {
			for x := range w {
				c, i := f(x, y), y*stride+3*x
				data[i], data[i+1], data[i+2] = c.R, c.G, c.B
				if format == "BGR3" {
					data[i], data[i+2] = c.B, c.R
				}
			}
		}
	case "GREY":
		stride = w + pad
		data = filled(stride * h)
		for y := range h {
			for x := range w {
				data[y*stride+x], _, _ = ycc(x, y)
			}
		}
	case "YUYV":
		stride = 2*w + pad
		data = filled(stride * h)
		for y := range h {
			for x := 0; x < w; x += 2 {
				y0, _, _ := ycc(x, y)
				y1, _, _ := ycc(x+1, y)
				u, v := chroma(x, y, 2, 1)
				copy(data[y*stride+2*x:], []byte{y0, u, y1, v})
			}
		}
	case "NV12", "YU12":
		// Both have a luma plane and chroma worth half of it: NV12 one
		// plane of U V pairs with the luma stride, YU12 a U and a V plane
		// with half the stride.
		stride = w + pad
		data = filled(stride * h * 3 / 2)
		cs := stride / 2
		for y := range h {
			for x := range w {
				data[y*stride+x], _, _ = ycc(x, y)
				if x%2 != 0 || y%2 != 0 {
					continue
				}
				u, v := chroma(x, y, 2, 2)
				if format == "NV12" {
					i := stride*h + y/2*stride + x
					data[i], data[i+1] = u, v
				} else {
					i := stride*h + y/2*cs + x/2
					data[i], data[i+cs*h/2] = u, v
				}
			}
		}
	}
	r := jpeg.Raw{Format: format, Width: w, Height: h, Data: data}
	if pad != 0 {
		r.Stride = stride
	}
	return r
}

// gradient is a smooth picture whose channels all differ, so a swapped
// R and B, or U and V, or a wrong stride, shows as a large error. Small
// pictures get the slope of a 96-pixel one, so that chroma subsampling
// alone does not look like an error.
func gradient(w, h int) func(x, y int) color.RGBA {
	w, h = max(w, 96), max(h, 96)
	return func(x, y int) color.RGBA {
		return color.RGBA{uint8(30 + x*190/w), uint8(200 - y*150/h), uint8(60 + (x+y)*100/(w+h)), 255}
	}
}

// meanError decodes out and returns the mean and maximum absolute
// difference from f per channel (luma only for a grey output).
func meanError(t *testing.T, out []byte, f func(x, y int) color.RGBA) (mean float64, maxDiff int) {
	t.Helper()
	img, err := stdjpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("output does not decode: %v", err)
	}
	_, grey := img.(*image.Gray)
	var sum, n int
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			want := f(x, y)
			got := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			var ds []int
			if grey {
				ds = []int{absDiff(got.R, color.GrayModel.Convert(want).(color.Gray).Y)}
			} else {
				ds = []int{absDiff(got.R, want.R), absDiff(got.G, want.G), absDiff(got.B, want.B)}
			}
			for _, d := range ds {
				sum += d
				n++
				maxDiff = max(maxDiff, d)
			}
		}
	}
	return float64(sum) / float64(n), maxDiff
}

func TestEncodeRawColours(t *testing.T) {
	for _, format := range rawFormats {
		for _, tc := range []struct{ w, h, pad int }{{64, 48, 0}, {36, 22, 12}, {640, 480, 0}} {
			t.Run(fmt.Sprintf("%s/%dx%d+%d", format, tc.w, tc.h, tc.pad), func(t *testing.T) {
				f := gradient(tc.w, tc.h)
				out, err := jpeg.EncodeRaw(rawFrame(f, tc.w, tc.h, format, tc.pad), 95, jpeg.Transform{})
				if err != nil {
					t.Fatal(err)
				}
				if w, h, err := jpeg.Dimensions(out); err != nil || w != tc.w || h != tc.h {
					t.Fatalf("Dimensions = %d, %d, %v", w, h, err)
				}
				mean, maxDiff := meanError(t, out, f)
				if mean > 2.5 || maxDiff > 24 {
					t.Errorf("decoded picture differs from the input: mean %.2f, max %d per channel", mean, maxDiff)
				}
			})
		}
	}
}

func TestEncodeRawOddSizes(t *testing.T) {
	// Formats without subsampled chroma take any size; YUYV any height.
	for _, tc := range []struct {
		format string
		w, h   int
	}{{"GREY", 35, 21}, {"RGB3", 35, 21}, {"BGR3", 1, 1}, {"YUYV", 36, 21}, {"YUYV", 2, 1}, {"GREY", 1, 17}} {
		t.Run(fmt.Sprintf("%s/%dx%d", tc.format, tc.w, tc.h), func(t *testing.T) {
			f := gradient(tc.w, tc.h)
			for _, tr := range []jpeg.Transform{{}, {Rotate: 90}} {
				out, err := jpeg.EncodeRaw(rawFrame(f, tc.w, tc.h, tc.format, 3), 95, tr)
				if err != nil {
					t.Fatal(err)
				}
				w, h, want := tc.w, tc.h, f
				if tr.Rotate == 90 {
					// Output (x, y) shows input (y, h-1-x).
					w, h = h, w
					want = func(x, y int) color.RGBA { return f(y, tc.h-1-x) }
				}
				if dw, dh, err := jpeg.Dimensions(out); err != nil || dw != w || dh != h {
					t.Fatalf("%s: Dimensions = %d, %d, %v; want %dx%d", tname(tr), dw, dh, err, w, h)
				}
				if mean, maxDiff := meanError(t, out, want); mean > 4 || maxDiff > 40 {
					t.Errorf("%s: decoded picture differs: mean %.2f, max %d", tname(tr), mean, maxDiff)
				}
			}
		})
	}
}

func TestEncodeRawOrientation(t *testing.T) {
	for _, format := range rawFormats {
		for _, size := range []image.Point{{64, 48}, {36, 22}} {
			f := quadrants(size.X, size.Y)
			raw := rawFrame(f, size.X, size.Y, format, 6)
			for _, tc := range allTransforms {
				t.Run(fmt.Sprintf("%s/%v/%s", format, size, tname(tc.t)), func(t *testing.T) {
					out, err := jpeg.EncodeRaw(raw, 90, tc.t)
					if err != nil {
						t.Fatal(err)
					}
					checkCorners(t, out, size.X, size.Y, tc.t, tc.corners)
				})
			}
		}
	}
}

func TestEncodeRawRejects(t *testing.T) {
	ok := func(format string, w, h int) jpeg.Raw { return rawFrame(gradient(w, h), w, h, format, 0) }
	with := func(r jpeg.Raw, edit func(*jpeg.Raw)) jpeg.Raw { edit(&r); return r }
	for _, tc := range []struct {
		name string
		raw  jpeg.Raw
		want string
	}{
		{"unknown format", jpeg.Raw{Format: "MJPG", Width: 2, Height: 2, Data: make([]byte, 100)}, `"MJPG" is not supported`},
		{"empty format", jpeg.Raw{Width: 2, Height: 2, Data: make([]byte, 100)}, "not supported"},
		{"zero width", with(ok("GREY", 4, 4), func(r *jpeg.Raw) { r.Width = 0 }), "size 0x4 is out of range"},
		{"negative height", with(ok("GREY", 4, 4), func(r *jpeg.Raw) { r.Height = -4 }), "out of range"},
		{"too wide", jpeg.Raw{Format: "GREY", Width: 70000, Height: 1, Data: make([]byte, 70000)}, "out of range"},
		{"YUYV odd width", with(ok("YUYV", 4, 4), func(r *jpeg.Raw) { r.Width = 3 }), "width 3 is odd"},
		{"NV12 odd width", with(ok("NV12", 4, 4), func(r *jpeg.Raw) { r.Width = 3 }), "width 3 is odd"},
		{"NV12 odd height", with(ok("NV12", 4, 4), func(r *jpeg.Raw) { r.Height = 3 }), "height 3 is odd"},
		{"YU12 odd height", with(ok("YU12", 4, 4), func(r *jpeg.Raw) { r.Height = 3 }), "height 3 is odd"},
		{"stride too small", with(ok("RGB3", 4, 4), func(r *jpeg.Raw) { r.Stride = 11 }), "stride 11 is less than the 12 bytes"},
		{"negative stride", with(ok("YUYV", 4, 4), func(r *jpeg.Raw) { r.Stride = -8 }), "stride -8 is less than"},
		{"YU12 odd stride", jpeg.Raw{Format: "YU12", Width: 4, Height: 4, Stride: 5, Data: make([]byte, 100)}, "stride 5 is odd"},
		{"YUYV short", with(ok("YUYV", 4, 4), func(r *jpeg.Raw) { r.Data = r.Data[:31] }), "needs 32 bytes, got 31"},
		{"NV12 short", with(ok("NV12", 4, 4), func(r *jpeg.Raw) { r.Data = r.Data[:23] }), "needs 24 bytes, got 23"},
		{"YU12 short", with(ok("YU12", 4, 4), func(r *jpeg.Raw) { r.Data = r.Data[:23] }), "needs 24 bytes, got 23"},
		{"GREY nil data", with(ok("GREY", 4, 4), func(r *jpeg.Raw) { r.Data = nil }), "needs 16 bytes, got 0"},
		{"huge claim", jpeg.Raw{Format: "YUYV", Width: 65534, Height: 65535, Stride: math.MaxInt, Data: make([]byte, 64)}, "needs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := jpeg.EncodeRaw(tc.raw, 80, jpeg.Transform{Rotate: 90})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("EncodeRaw = %d bytes, %v; want an error containing %q", len(out), err, tc.want)
			}
		})
	}
}

// TestEncodeRawShortBuffers cuts frames of every format at every length
// below the minimum and checks for an error (and no panic), then checks
// that exactly the minimum, with no padding after the last row, encodes.
func TestEncodeRawShortBuffers(t *testing.T) {
	for _, format := range rawFormats {
		w, h := 10, 6
		full := rawFrame(gradient(w, h), w, h, format, 4)
		// The last row of the last plane needs no padding.
		need := len(full.Data) - 4
		if format == "YU12" {
			need = len(full.Data) - 2
		}
		for _, tr := range []jpeg.Transform{{}, {Rotate: 270, FlipH: true}} {
			for n := range need {
				raw := full
				raw.Data = bytes.Clone(full.Data[:n])
				if _, err := jpeg.EncodeRaw(raw, 80, tr); err == nil {
					t.Fatalf("%s cut to %d of %d bytes: no error", format, n, need)
				}
			}
			raw := full
			raw.Data = bytes.Clone(full.Data[:need])
			out, err := jpeg.EncodeRaw(raw, 95, tr)
			if err != nil {
				t.Fatalf("%s with exactly %d bytes: %v", format, need, err)
			}
			if _, err := stdjpeg.Decode(bytes.NewReader(out)); err != nil {
				t.Fatalf("%s: output does not decode: %v", format, err)
			}
		}
	}
}

// TestConcurrentUse runs every operation from several goroutines at once
// (under -race in CI) and checks each result against the one computed
// alone: pooled encoder instances and scratch buffers must not leak state
// between calls.
func TestConcurrentUse(t *testing.T) {
	f := gradient(96, 64)
	yuyv := rawFrame(f, 96, 64, "YUYV", 0)
	rgb := rawFrame(f, 80, 48, "BGR3", 8)
	jpg := mustEncode(t, noiseImage(96, 64, 3))
	ragged := mustEncode(t, noiseImage(90, 50, 4))
	ops := []func() ([]byte, error){
		func() ([]byte, error) { return jpeg.EncodeRaw(yuyv, 80, jpeg.Transform{}) },
		func() ([]byte, error) { return jpeg.EncodeRaw(yuyv, 70, jpeg.Transform{Rotate: 90}) },
		func() ([]byte, error) { return jpeg.EncodeRaw(rgb, 85, jpeg.Transform{Rotate: 180, FlipH: true}) },
		func() ([]byte, error) { return jpeg.TransformJPEG(jpg, jpeg.Transform{Rotate: 270}, 80) },
		func() ([]byte, error) { return jpeg.TransformJPEG(jpg, jpeg.Transform{Rotate: 90}, 75) },
		func() ([]byte, error) { return jpeg.TransformJPEG(ragged, jpeg.Transform{Rotate: 90}, 80) },
		func() ([]byte, error) { return jpeg.Encode(testImage(33, 17), 80) },
		func() ([]byte, error) { return jpeg.TransformJPEG(jpg[:len(jpg)/2], jpeg.Transform{Rotate: 90}, 80) },
	}
	want := make([][]byte, len(ops))
	wantErr := make([]bool, len(ops))
	for i, op := range ops {
		b, err := op()
		want[i], wantErr[i] = b, err != nil
	}
	if !wantErr[len(ops)-1] {
		t.Fatal("transforming a truncated frame did not fail")
	}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for g := range 8 {
		wg.Go(func() {
			for n := range 12 {
				i := (g + n) % len(ops)
				b, err := ops[i]()
				if (err != nil) != wantErr[i] || !bytes.Equal(b, want[i]) {
					errs <- fmt.Sprintf("op %d: %d bytes, error %v; alone it gave %d bytes", i, len(b), err, len(want[i]))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestEncodeRawAllocations checks that steady-state encoding allocates
// little more than its output: conversion and rotation use pooled scratch.
// sync.Pool drops items at random under the race detector, so the test
// needs a normal build.
func TestEncodeRawAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool is randomised under -race")
	}
	raw := rawFrame(gradient(640, 480), 640, 480, "YUYV", 0)
	// libjpeg-turbo: the output only. image/jpeg: the output buffer, the
	// writer and image headers handed to it, and five small allocations of
	// its own (the encoder and one per Huffman table written).
	limit := 1.0
	if !turbo() {
		limit = 8
	}
	for _, tr := range []jpeg.Transform{{}, {Rotate: 90}} {
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := jpeg.EncodeRaw(raw, 80, tr); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > limit {
			t.Errorf("%s: %.1f allocations per frame, want at most %.0f", tname(tr), allocs, limit)
		}
	}
}

func TestImplementation(t *testing.T) {
	impl := jpeg.Implementation()
	if impl != "pure Go (image/jpeg)" && !strings.HasPrefix(impl, "libjpeg-turbo ") {
		t.Fatalf("Implementation() = %q", impl)
	}
	if impl != wantImplementationPrefix && !strings.HasPrefix(impl, wantImplementationPrefix) {
		t.Fatalf("Implementation() = %q, this build should use %q", impl, wantImplementationPrefix)
	}
	t.Log(impl)
}
