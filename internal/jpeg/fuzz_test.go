package jpeg_test

import (
	"bytes"
	stdjpeg "image/jpeg"
	"testing"

	"usbstream/internal/jpeg"
)

// The committed seeds live in testdata/fuzz/Fuzz*; these add frames the
// encoder makes today so the corpus follows the implementation.
func fuzzSeeds(f *testing.F) {
	small := mustEncode(f, testImage(16, 16))
	f.Add(small)
	f.Add(append(bytes.Clone(small), 0, 0, 0, 0))
	f.Add(small[:len(small)/2])
	f.Add(withExifThumbnail(small, small))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xD9})
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
