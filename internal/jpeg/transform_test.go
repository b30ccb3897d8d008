package jpeg_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"os"
	"strings"
	"testing"

	"usbstream/internal/jpeg"
)

func turbo() bool { return strings.HasPrefix(jpeg.Implementation(), "libjpeg-turbo") }

// Quadrant colours of the orientation test picture: A top left, B top
// right, C bottom left, D bottom right. They differ in hue and in luma, so
// greyscale frames tell them apart too.
var quad = map[byte]color.RGBA{
	'A': {220, 40, 40, 255},
	'B': {40, 190, 40, 255},
	'C': {40, 60, 220, 255},
	'D': {240, 230, 60, 255},
}

// quadrants is a w×h picture of four uniform quadrants.
func quadrants(w, h int) func(x, y int) color.RGBA {
	return func(x, y int) color.RGBA {
		switch {
		case y < h/2 && x < w/2:
			return quad['A']
		case y < h/2:
			return quad['B']
		case x < w/2:
			return quad['C']
		default:
			return quad['D']
		}
	}
}

// allTransforms lists every rotate×flip combination with the quadrants the
// output shows at its top left, top right, bottom left and bottom right, as
// the documented order (flip, then turn clockwise) puts them. The table is
// written out by hand on purpose: deriving it with code would repeat the
// implementation's reasoning and its mistakes.
var allTransforms = []struct {
	t       jpeg.Transform
	corners string
}{
	{jpeg.Transform{}, "ABCD"},
	{jpeg.Transform{Rotate: 90}, "CADB"},
	{jpeg.Transform{Rotate: 180}, "DCBA"},
	{jpeg.Transform{Rotate: 270}, "BDAC"},
	{jpeg.Transform{FlipH: true}, "BADC"},
	{jpeg.Transform{Rotate: 90, FlipH: true}, "DBCA"},
	{jpeg.Transform{Rotate: 180, FlipH: true}, "CDAB"},
	{jpeg.Transform{Rotate: 270, FlipH: true}, "ACBD"},
	{jpeg.Transform{FlipV: true}, "CDAB"},
	{jpeg.Transform{Rotate: 90, FlipV: true}, "ACBD"},
	{jpeg.Transform{Rotate: 180, FlipV: true}, "BADC"},
	{jpeg.Transform{Rotate: 270, FlipV: true}, "DBCA"},
	{jpeg.Transform{FlipH: true, FlipV: true}, "DCBA"},
	{jpeg.Transform{Rotate: 90, FlipH: true, FlipV: true}, "BDAC"},
	{jpeg.Transform{Rotate: 180, FlipH: true, FlipV: true}, "ABCD"},
	{jpeg.Transform{Rotate: 270, FlipH: true, FlipV: true}, "CADB"},
}

func tname(t jpeg.Transform) string {
	s := fmt.Sprintf("rot%d", t.Rotate)
	if t.FlipH {
		s += "+flipH"
	}
	if t.FlipV {
		s += "+flipV"
	}
	return s
}

// checkCorners decodes out and checks that it is the w×h quadrants picture
// after tr: its size, and the colour at each output quadrant's centre and
// near its outer corner (3 pixels in, clear of JPEG edge effects). Grey
// outputs are compared by luma.
func checkCorners(t *testing.T, out []byte, w, h int, tr jpeg.Transform, corners string) {
	t.Helper()
	img, err := stdjpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("output does not decode: %v", err)
	}
	if tr.Rotate == 90 || tr.Rotate == 270 {
		w, h = h, w
	}
	if got := img.Bounds().Size(); got != image.Pt(w, h) {
		t.Fatalf("output is %v, want %dx%d", got, w, h)
	}
	_, grey := img.(*image.Gray)
	for i, name := range []byte(corners) {
		qx, qy := i%2, i/2
		cx, cy := 2, 2
		if qx == 1 {
			cx = w - 3
		}
		if qy == 1 {
			cy = h - 3
		}
		for _, p := range []image.Point{{qx*w/2 + w/4, qy*h/2 + h/4}, {cx, cy}} {
			want := quad[name]
			got := color.RGBAModel.Convert(img.At(p.X, p.Y)).(color.RGBA)
			if grey {
				wy := color.GrayModel.Convert(want).(color.Gray).Y
				if d := absDiff(got.R, wy); d > 12 {
					t.Errorf("at %v luma %d, want quadrant %c's %d", p, got.R, name, wy)
				}
				continue
			}
			if d := max(absDiff(got.R, want.R), absDiff(got.G, want.G), absDiff(got.B, want.B)); d > 30 {
				t.Errorf("at %v colour %v, want quadrant %c's %v", p, got, name, want)
			}
		}
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestTransformIsIdentity(t *testing.T) {
	for _, tc := range []struct {
		t    jpeg.Transform
		want bool
	}{
		{jpeg.Transform{}, true},
		{jpeg.Transform{Rotate: 180, FlipH: true, FlipV: true}, true},
		{jpeg.Transform{Rotate: 90}, false},
		{jpeg.Transform{FlipH: true}, false},
		{jpeg.Transform{Rotate: 360}, false},
		{jpeg.Transform{Rotate: -90}, false},
	} {
		if got := tc.t.IsIdentity(); got != tc.want {
			t.Errorf("%+v.IsIdentity() = %v, want %v", tc.t, got, tc.want)
		}
	}
}

func TestTransformMirrors(t *testing.T) {
	for _, tc := range []struct {
		t             jpeg.Transform
		h, v, ok, swp bool
	}{
		{jpeg.Transform{}, false, false, true, false},
		{jpeg.Transform{FlipH: true}, true, false, true, false},
		{jpeg.Transform{FlipV: true}, false, true, true, false},
		{jpeg.Transform{Rotate: 180}, true, true, true, false},
		{jpeg.Transform{Rotate: 180, FlipH: true}, false, true, true, false},
		{jpeg.Transform{Rotate: 90}, false, false, false, true},
		{jpeg.Transform{Rotate: 270, FlipV: true}, false, false, false, true},
		{jpeg.Transform{Rotate: 45}, false, false, false, false},
	} {
		h, v, ok := tc.t.Mirrors()
		if h != tc.h || v != tc.v || ok != tc.ok {
			t.Errorf("%+v.Mirrors() = %v %v %v, want %v %v %v", tc.t, h, v, ok, tc.h, tc.v, tc.ok)
		}
		if got := tc.t.SwapsSize(); got != tc.swp {
			t.Errorf("%+v.SwapsSize() = %v, want %v", tc.t, got, tc.swp)
		}
	}
}

func TestTransformRejectsBadRotation(t *testing.T) {
	jpg := mustEncode(t, testImage(32, 32))
	raw := rawFrame(quadrants(16, 16), 16, 16, "GREY", 0)
	for _, r := range []int{45, -90, 360, 1} {
		tr := jpeg.Transform{Rotate: r}
		if _, err := jpeg.TransformJPEG(jpg, tr, 80); err == nil || !strings.Contains(err.Error(), "rotation") {
			t.Errorf("TransformJPEG with rotation %d: error %v", r, err)
		}
		if _, err := jpeg.EncodeRaw(raw, 80, tr); err == nil || !strings.Contains(err.Error(), "rotation") {
			t.Errorf("EncodeRaw with rotation %d: error %v", r, err)
		}
	}
	for _, q := range []int{0, 101} {
		if _, err := jpeg.TransformJPEG(jpg, jpeg.Transform{Rotate: 90}, q); err == nil {
			t.Errorf("TransformJPEG with quality %d did not fail", q)
		}
	}
}

// ycbcrPicture renders f into a YCbCr image with the given subsampling.
// libjpeg-turbo keeps the subsampling when encoding it; image/jpeg always
// writes 4:2:0.
func ycbcrPicture(f func(x, y int) color.RGBA, w, h int, ratio image.YCbCrSubsampleRatio) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), ratio)
	for y := range h {
		for x := range w {
			c := f(x, y)
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			img.Y[img.YOffset(x, y)] = yy
			img.Cb[img.COffset(x, y)] = cb
			img.Cr[img.COffset(x, y)] = cr
		}
	}
	return img
}

func TestTransformJPEGOrientation(t *testing.T) {
	type input struct {
		name string
		w, h int
		jpg  []byte
	}
	var inputs []input
	for _, size := range []image.Point{{64, 48}, {72, 40}, {35, 21}} {
		for _, ratio := range []image.YCbCrSubsampleRatio{
			image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422,
			image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio440,
		} {
			img := ycbcrPicture(quadrants(size.X, size.Y), size.X, size.Y, ratio)
			inputs = append(inputs, input{fmt.Sprintf("%dx%d-%v", size.X, size.Y, ratio), size.X, size.Y, mustEncode(t, img)})
		}
		grey := image.NewGray(image.Rect(0, 0, size.X, size.Y))
		f := quadrants(size.X, size.Y)
		for y := range size.Y {
			for x := range size.X {
				grey.Set(x, y, f(x, y))
			}
		}
		inputs = append(inputs, input{fmt.Sprintf("%dx%d-grey", size.X, size.Y), size.X, size.Y, mustEncode(t, grey)})
	}
	for _, in := range inputs {
		for _, tc := range allTransforms {
			t.Run(in.name+"/"+tname(tc.t), func(t *testing.T) {
				out, err := jpeg.TransformJPEG(in.jpg, tc.t, 90)
				if err != nil {
					t.Fatal(err)
				}
				if tc.t.IsIdentity() && &out[0] != &in.jpg[0] {
					t.Error("an identity transform copied its input")
				}
				checkCorners(t, out, in.w, in.h, tc.t, tc.corners)
			})
		}
	}
}

// samePixels reports whether a and b decode to identical pictures.
func samePixels(t *testing.T, a, b []byte) bool {
	t.Helper()
	ia, err := stdjpeg.Decode(bytes.NewReader(a))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	ib, err := stdjpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if ia.Bounds() != ib.Bounds() {
		return false
	}
	r := ia.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if ia.At(x, y) != ib.At(x, y) {
				return false
			}
		}
	}
	return true
}

// noiseImage is a 4:2:0 picture of smooth gradients with pseudo-random
// texture, closer to a camera frame than flat test patterns: it costs the
// entropy coder what real frames cost.
func noiseImage(w, h int, seed uint32) *image.YCbCr {
	return noisePicture(w, h, seed, image.YCbCrSubsampleRatio420)
}

func noisePicture(w, h int, seed uint32, ratio image.YCbCrSubsampleRatio) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), ratio)
	s := seed*2654435761 + 1
	next := func() uint8 {
		s ^= s << 13
		s ^= s >> 17
		s ^= s << 5
		return uint8(s)
	}
	for y := range h {
		for x := range w {
			img.Y[img.YOffset(x, y)] = uint8((x*160/w+y*60/h)&0xFF) + next()%16
		}
	}
	rows, cols := len(img.Cb)/img.CStride, img.CStride
	for y := range rows {
		for x := range cols {
			i := y*img.CStride + x
			img.Cb[i] = uint8(100+x*50/cols) + next()%8
			img.Cr[i] = uint8(150-y*60/rows) + next()%8
		}
	}
	return img
}

func TestTransformJPEGProgressive(t *testing.T) {
	for _, name := range []string{"progressive.jpg", "progressive-gray.jpg"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		orig, err := stdjpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		out, err := jpeg.TransformJPEG(b, jpeg.Transform{Rotate: 90}, 95)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		img, err := stdjpeg.Decode(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("%s: output does not decode: %v", name, err)
		}
		if img.Bounds().Size() != image.Pt(103, 150) {
			t.Fatalf("%s: output is %v, want 103x150", name, img.Bounds().Size())
		}
		// Pixel (x, y) of the original is at (h-1-y, x) after a quarter
		// turn; compare luma on a grid, with JPEG tolerance.
		var sum, n int
		for y := 0; y < 103; y += 5 {
			for x := 0; x < 150; x += 5 {
				a := color.GrayModel.Convert(orig.At(x, y)).(color.Gray).Y
				c := color.GrayModel.Convert(img.At(102-y, x)).(color.Gray).Y
				sum += absDiff(a, c)
				n++
			}
		}
		if sum/n > 4 {
			t.Errorf("%s: mean luma difference %d after rotation, want a faithful copy", name, sum/n)
		}
	}
}

func TestTransformJPEGRejects(t *testing.T) {
	valid := mustEncode(t, testImage(64, 48))
	soi := []byte{0xFF, 0xD8}
	hugeHeader := append(bytes.Clone(soi), segment(0xC0, []byte{8, 0x1F, 0x40, 0x1F, 0x40, 1, 1, 0x11, 0})...)
	hugeHeader = append(hugeHeader, make([]byte, 200)...)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"nil", nil, "no start-of-image"},
		{"garbage", bytes.Repeat([]byte{0x42}, 300), "no start-of-image"},
		{"header only", valid[:200], ""},
		{"truncated data", valid[:len(valid)*2/3], ""},
		{"claims 8000x8000 in 200 bytes", hugeHeader, "cannot hold"},
		{"arithmetic coding", append(bytes.Clone(soi), segment(0xC9, []byte{8, 0, 16, 0, 16, 1, 1, 0x11, 0})...), "SOF9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := jpeg.TransformJPEG(tc.b, jpeg.Transform{Rotate: 90}, 80)
			if err == nil {
				t.Fatalf("TransformJPEG returned %d bytes and no error", len(out))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestTransformJPEGWithoutDHT: camera frames without Huffman tables are
// transformed like complete ones.
func TestTransformJPEGWithoutDHT(t *testing.T) {
	full := mustEncode(t, ycbcrPicture(quadrants(64, 48), 64, 48, image.YCbCrSubsampleRatio420))
	bare := stripDHT(t, full)
	for _, tc := range allTransforms[1:4] {
		out, err := jpeg.TransformJPEG(bare, tc.t, 90)
		if err != nil {
			t.Fatalf("%s: %v", tname(tc.t), err)
		}
		checkCorners(t, out, 64, 48, tc.t, tc.corners)
	}
}

// TestRejectedFrameDoesNotSpoilTheNext alternates frames cut short at
// several points with a valid one: whatever state a failure leaves behind
// (libjpeg-turbo handles are reused) must not reach the next frame.
func TestRejectedFrameDoesNotSpoilTheNext(t *testing.T) {
	valid := mustEncode(t, noiseImage(64, 48, 13))
	for _, n := range []int{100, 200, 300, len(valid) / 2, len(valid) - 10} {
		for range 5 {
			if _, err := jpeg.TransformJPEG(valid[:n], jpeg.Transform{Rotate: 90}, 80); err == nil {
				t.Fatalf("frame cut to %d bytes: no error", n)
			}
			out, err := jpeg.TransformJPEG(valid, jpeg.Transform{Rotate: 90}, 80)
			if err != nil {
				t.Fatalf("valid frame after one cut to %d bytes: %v", n, err)
			}
			if w, h, err := jpeg.Dimensions(out); err != nil || w != 48 || h != 64 {
				t.Fatalf("valid frame after one cut to %d bytes: %dx%d, %v", n, w, h, err)
			}
		}
	}
}

// A generated picture (the test pattern) is turned like a camera frame.
func TestEncodeTransformedOrientation(t *testing.T) {
	for _, size := range []image.Point{{64, 48}, {35, 21}} {
		for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio444} {
			img := ycbcrPicture(quadrants(size.X, size.Y), size.X, size.Y, ratio)
			for _, tc := range allTransforms {
				t.Run(fmt.Sprintf("%dx%d-%v/%s", size.X, size.Y, ratio, tname(tc.t)), func(t *testing.T) {
					out, err := jpeg.EncodeTransformed(img, 90, tc.t)
					if err != nil {
						t.Fatal(err)
					}
					checkCorners(t, out, size.X, size.Y, tc.t, tc.corners)
				})
			}
		}
	}
	if _, err := jpeg.EncodeTransformed(image.NewRGBA(image.Rect(0, 0, 8, 8)), 90, jpeg.Transform{Rotate: 90}); err == nil {
		t.Error("an RGBA picture was rotated; only planar ones can be")
	}
	if _, err := jpeg.EncodeTransformed(img8x8(), 90, jpeg.Transform{Rotate: 45}); err == nil {
		t.Error("a 45° rotation was accepted")
	}
}

func img8x8() *image.YCbCr {
	return image.NewYCbCr(image.Rect(0, 0, 8, 8), image.YCbCrSubsampleRatio420)
}
