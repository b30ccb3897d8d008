//go:build turbojpeg && benchlossless

package jpeg_test

import (
	"image"
	"testing"

	"usbstream/internal/jpeg"
)

func init() {
	transformers = append(transformers, struct {
		name string
		fn   func([]byte, jpeg.Transform, int) ([]byte, error)
	}{"lossless", func(b []byte, t jpeg.Transform, _ int) ([]byte, error) { return jpeg.TransformJPEGLossless(b, t) }})
}

// TestLosslessIsLossless turns a frame all the way round in quarter turns
// and in half turns: what the benchmark measures must give back the exact
// pixels, or it is not the transform it claims to be.
func TestLosslessIsLossless(t *testing.T) {
	orig := mustEncode(t, noiseImage(64, 48, 7))
	for _, step := range []jpeg.Transform{{Rotate: 90}, {Rotate: 180}, {FlipH: true}, {Rotate: 270, FlipV: true}} {
		b := orig
		for range 4 {
			var err error
			if b, err = jpeg.TransformJPEGLossless(b, step); err != nil {
				t.Fatal(err)
			}
		}
		if !samePixels(t, orig, b) {
			t.Errorf("four times %s changed the pixels", tname(step))
		}
	}
}

// TestLosslessRefusesPartialMCUs: a lossless transform that would move the
// partial MCUs of the right or bottom edge to the top or left fails rather
// than crop or leave a strip, so the benchmark compares whole pictures.
func TestLosslessRefusesPartialMCUs(t *testing.T) {
	// 72x40 in 4:2:0 has half an MCU on the right and on the bottom; only
	// the transpose keeps both edges where they are.
	ragged := mustEncode(t, ycbcrPicture(quadrants(72, 40), 72, 40, image.YCbCrSubsampleRatio420))
	aligned := mustEncode(t, ycbcrPicture(quadrants(64, 48), 64, 48, image.YCbCrSubsampleRatio420))
	for _, tc := range allTransforms {
		if tc.t.IsIdentity() {
			continue
		}
		if out, err := jpeg.TransformJPEGLossless(aligned, tc.t); err != nil {
			t.Errorf("%s of a 64x48 4:2:0 frame: %v", tname(tc.t), err)
		} else {
			checkCorners(t, out, 64, 48, tc.t, tc.corners)
		}
		_, err := jpeg.TransformJPEGLossless(ragged, tc.t)
		if transpose := tc.corners == "ACBD"; transpose != (err == nil) {
			t.Errorf("%s of a 72x40 frame: error %v, want one unless it is the transpose", tname(tc.t), err)
		}
	}
}
