package jpeg_test

import (
	"bytes"
	"image"
	stdjpeg "image/jpeg"
	"testing"
	"usbstream/internal/jpeg/jpegtest"

	"usbstream/internal/jpeg"
)

// The committed seeds live in testdata/fuzz/Fuzz*; these add frames the
// encoder makes today so the corpus follows the implementation.
func fuzzSeeds(f *testing.F) {
	for _, b := range seedFrames(f) {
		f.Add(b)
	}
}

func seedFrames(t testing.TB) [][]byte {
	small := mustEncode(t, testImage(16, 16))
	return [][]byte{
		small,
		append(bytes.Clone(small), 0, 0, 0, 0),
		small[:len(small)/2],
		jpegtest.WithExifThumbnail(small, small),
		{0xFF, 0xD8, 0xFF, 0xD9},
	}
}

func FuzzCheck(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		trimmed := jpeg.Trim(b)
		if !bytes.HasPrefix(b, trimmed) {
			t.Fatalf("Trim returned something that is not a prefix of its input")
		}
		if len(bytes.Trim(b[len(trimmed):], "\x00")) != 0 {
			t.Fatalf("Trim removed non-zero bytes")
		}
		if again := jpeg.Trim(trimmed); len(again) != len(trimmed) {
			t.Fatalf("Trim is not idempotent: %d then %d bytes", len(trimmed), len(again))
		}
		if jpeg.Check(b) != nil {
			return
		}
		if len(trimmed) < jpeg.MinFrameSize || !bytes.HasPrefix(trimmed, []byte{0xFF, 0xD8}) ||
			!bytes.HasSuffix(trimmed, []byte{0xFF, 0xD9}) {
			t.Fatalf("Check accepted a %d-byte frame that is too small or lacks SOI/EOI", len(trimmed))
		}
	})
}

func FuzzDimensions(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		w, h, err := jpeg.Dimensions(b)
		if err != nil {
			if w != 0 || h != 0 {
				t.Fatalf("Dimensions returned %dx%d with error %v", w, h, err)
			}
			return
		}
		if w < 1 || h < 1 || w > 65535 || h > 65535 {
			t.Fatalf("Dimensions = %dx%d without an error", w, h)
		}
		// Where image/jpeg also reads a header, both must agree on it.
		if cfg, err := stdjpeg.DecodeConfig(bytes.NewReader(b)); err == nil && (cfg.Width != w || cfg.Height != h) {
			t.Fatalf("Dimensions = %dx%d, image/jpeg reads %dx%d", w, h, cfg.Width, cfg.Height)
		}
	})
}

// fuzzMaxPixels keeps the fuzzers fast: a short input whose header claims
// a large picture would make every run decode megapixels of nothing. The
// package's own limits are tested in TestTransformJPEGRejects.
const fuzzMaxPixels = 1 << 20

func claimsTooMuch(b []byte) bool {
	w, h, err := jpeg.Dimensions(b)
	return err == nil && w*h > fuzzMaxPixels
}

func FuzzEnsureHuffmanTables(f *testing.F) {
	fuzzSeeds(f)
	bare := stdEncode(f, noiseImage(24, 16, 9))
	f.Add(stripDHT(f, bare))
	f.Fuzz(func(t *testing.T, b []byte) {
		out := jpeg.EnsureHuffmanTables(b)
		switch len(out) - len(b) {
		case 0:
			if len(b) > 0 && &out[0] != &b[0] {
				t.Fatal("unchanged output is a copy, not the input")
			}
		case 420: // the four Annex K tables in one segment
			if !insertedOnce(b, out) {
				t.Fatal("output is not the input with one DHT segment inserted")
			}
			if again := jpeg.EnsureHuffmanTables(out); len(again) != len(out) {
				t.Fatal("tables inserted twice")
			}
		default:
			t.Fatalf("output is %d bytes for %d of input", len(out), len(b))
		}
		if claimsTooMuch(b) {
			return
		}
		if orig, err := stdjpeg.Decode(bytes.NewReader(b)); err == nil {
			fixed, err := stdjpeg.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("input decodes but output does not: %v", err)
			}
			if !sameImage(orig, fixed) {
				t.Fatal("output decodes to other pixels than the input")
			}
		}
	})
}

// insertedOnce reports whether out is in with one DHT segment of 420 bytes
// inserted at some offset.
func insertedOnce(in, out []byte) bool {
	for i := 0; i+420 <= len(out); i++ {
		if out[i] == 0xFF && out[i+1] == 0xC4 && out[i+2] == 0x01 && out[i+3] == 0xA2 &&
			bytes.Equal(out[:i], in[:min(i, len(in))]) && bytes.Equal(out[i+420:], in[min(i, len(in)):]) {
			return true
		}
	}
	return false
}

func sameImage(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				return false
			}
		}
	}
	return true
}

func FuzzTransformJPEG(f *testing.F) {
	for i, b := range seedFrames(f) {
		f.Add(b, uint8(i), uint8(i/4), uint8(70))
	}
	ragged := mustEncode(f, noiseImage(20, 12, 10))
	for i := range uint8(8) {
		f.Add(ragged, i, i/4, uint8(50))
	}
	// After every input a valid frame must still transform: nothing a
	// hostile frame does may leak into the next one (libjpeg-turbo handles
	// are pooled, scratch buffers too).
	canary := mustEncode(f, noiseImage(24, 16, 14))
	f.Fuzz(func(t *testing.T, b []byte, rot, flips, quality uint8) {
		tr := jpeg.Transform{Rotate: 90 * int(rot%4), FlipH: flips&1 != 0, FlipV: flips&2 != 0}
		q := 1 + int(quality)%100
		if tr.IsIdentity() {
			out, err := jpeg.TransformJPEG(b, tr, q)
			if err != nil || len(out) != len(b) || (len(b) > 0 && &out[0] != &b[0]) {
				t.Fatalf("identity transform returned %d bytes, %v; want its input", len(out), err)
			}
			return
		}
		if claimsTooMuch(jpeg.EnsureHuffmanTables(b)) {
			return
		}
		if out, err := jpeg.TransformJPEG(b, tr, q); err == nil {
			w, h, err := jpeg.Dimensions(jpeg.EnsureHuffmanTables(b))
			if err != nil {
				t.Fatalf("transformed an input whose size cannot be read: %v", err)
			}
			if tr.Rotate%180 != 0 {
				w, h = h, w
			}
			img, err := stdjpeg.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("output does not decode: %v", err)
			}
			if got := img.Bounds().Size(); got != image.Pt(w, h) {
				t.Fatalf("output is %v, want %dx%d", got, w, h)
			}
		}
		if _, err := jpeg.TransformJPEG(canary, jpeg.Transform{Rotate: 90}, 80); err != nil {
			t.Fatalf("a valid frame fails after this input: %v", err)
		}
	})
}
