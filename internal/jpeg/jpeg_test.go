package jpeg_test

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"usbstream/internal/jpeg/jpegtest"

	"usbstream/internal/jpeg"
)

// testImage is a 4:2:0 image with a horizontal luma ramp and a red left half,
// so that both size and colour survive a round trip visibly.
func testImage(w, h int) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Y[img.YOffset(x, y)] = uint8(16 + 200*x/w)
		}
	}
	y, cb, cr := color.RGBToYCbCr(200, 30, 30)
	for yy := range h {
		for x := range w / 2 {
			img.Y[img.YOffset(x, yy)] = y
			c := img.COffset(x, yy)
			img.Cb[c], img.Cr[c] = cb, cr
		}
	}
	return img
}

func mustEncode(t testing.TB, img image.Image) []byte {
	t.Helper()
	b, err := jpeg.Encode(img, 85)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return b
}

func TestEncodeRoundTrip(t *testing.T) {
	rgba := image.NewRGBA(image.Rect(0, 0, 64, 48))
	gray := image.NewGray(image.Rect(0, 0, 50, 30))
	nrgba := image.NewNRGBA(image.Rect(10, 10, 41, 27)) // generic path, non-zero origin
	for i := range rgba.Pix {
		rgba.Pix[i] = 0xFF
	}
	for _, tc := range []struct {
		name string
		img  image.Image
	}{
		{"ycbcr420", testImage(320, 240)},
		{"ycbcr420 odd size", testImage(33, 17)},
		{"ycbcr444", image.NewYCbCr(image.Rect(0, 0, 40, 20), image.YCbCrSubsampleRatio444)},
		{"rgba", rgba},
		{"gray", gray},
		{"nrgba", nrgba},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := mustEncode(t, tc.img)
			if err := jpeg.Check(b); err != nil {
				t.Fatalf("Check of encoded frame: %v", err)
			}
			dec, err := stdjpeg.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			want := tc.img.Bounds().Size()
			if got := dec.Bounds().Size(); got != want {
				t.Fatalf("decoded size %v, want %v", got, want)
			}
			w, h, err := jpeg.Dimensions(b)
			if err != nil || w != want.X || h != want.Y {
				t.Fatalf("Dimensions = %d, %d, %v; want %d, %d", w, h, err, want.X, want.Y)
			}
		})
	}
}

func TestEncodeKeepsColour(t *testing.T) {
	dec, err := stdjpeg.Decode(bytes.NewReader(mustEncode(t, testImage(64, 32))))
	if err != nil {
		t.Fatal(err)
	}
	r, g, b, _ := dec.At(8, 16).RGBA()
	if r>>8 < 150 || g>>8 > 80 || b>>8 > 80 {
		t.Fatalf("left half decoded as rgb(%d,%d,%d), want red", r>>8, g>>8, b>>8)
	}
}

func TestEncodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		img     image.Image
		quality int
		want    string
	}{
		{"nil", nil, 80, "nil image"},
		{"empty", image.NewGray(image.Rect(0, 0, 0, 10)), 80, "empty"},
		{"quality 0", testImage(8, 8), 0, "out of range"},
		{"quality 101", testImage(8, 8), 101, "out of range"},
		{"too wide", image.NewGray(image.Rect(0, 0, 70000, 1)), 80, "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jpeg.Encode(tc.img, tc.quality)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Encode error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	valid := mustEncode(t, testImage(64, 48))
	garbage := make([]byte, 500)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(rng.UintN(256))
	}
	garbage[0] = 0x12
	for _, tc := range []struct {
		name string
		b    []byte
		want string // "" means usable
	}{
		{"valid", valid, ""},
		{"padded after EOI", append(bytes.Clone(valid), make([]byte, 300)...), ""},
		{"nil", nil, "too small: 0 bytes"},
		{"tiny", []byte{0xFF, 0xD8, 0xFF, 0xD9}, "too small: 4 bytes"},
		{"tiny padded", append([]byte{0xFF, 0xD8, 0xFF, 0xD9}, make([]byte, 200)...), "too small: 4 bytes"},
		{"truncated", valid[:len(valid)-100], "truncated: no end-of-image marker (FF D9)"},
		{"last byte missing", valid[:len(valid)-1], "truncated"},
		{"truncated then zeros", append(bytes.Clone(valid[:len(valid)-100]), 0, 0, 0, 0), "truncated"},
		{"garbage", garbage, "no start-of-image marker (FF D8)"},
		{"junk before SOI", append([]byte{0, 0}, valid...), "no start-of-image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := jpeg.Check(tc.b)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Check = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Check = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestTrim(t *testing.T) {
	valid := mustEncode(t, testImage(16, 16))
	padded := append(bytes.Clone(valid), 0, 0, 0)
	if got := jpeg.Trim(padded); !bytes.Equal(got, valid) {
		t.Fatalf("Trim left %d bytes, want %d", len(got), len(valid))
	}
	if got := jpeg.Trim(valid); len(got) != len(valid) {
		t.Fatalf("Trim of an unpadded frame changed its length to %d", len(got))
	}
	// Zeros that do not follow an EOI are data, not padding.
	cut := append(bytes.Clone(valid[:50]), 0, 0)
	if got := jpeg.Trim(cut); len(got) != len(cut) {
		t.Fatalf("Trim removed zeros not preceded by EOI")
	}
}

// segment builds a marker segment: FF m, length, payload.
func segment(m byte, payload []byte) []byte {
	b := []byte{0xFF, m, 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(len(payload)+2))
	return append(b, payload...)
}

func TestDimensions(t *testing.T) {
	baseline := mustEncode(t, testImage(320, 240))
	thumb := mustEncode(t, testImage(40, 30))
	withThumb := jpegtest.WithExifThumbnail(baseline, thumb)
	progressive, err := os.ReadFile("testdata/progressive.jpg")
	if err != nil {
		t.Fatal(err)
	}
	progressiveGray, err := os.ReadFile("testdata/progressive-gray.jpg")
	if err != nil {
		t.Fatal(err)
	}
	// Fill bytes before a marker are legal (T.81 B.1.1.2).
	filled := append([]byte{0xFF, 0xD8, 0xFF, 0xFF, 0xFF}, baseline[3:]...)

	for _, tc := range []struct {
		name string
		b    []byte
		w, h int
	}{
		{"baseline", baseline, 320, 240},
		{"exif thumbnail before the frame header", withThumb, 320, 240},
		{"progressive", progressive, 150, 103},
		{"progressive gray", progressiveGray, 150, 103},
		{"fill bytes", filled, 320, 240},
		{"header only", append([]byte{0xFF, 0xD8}, segment(0xC0, []byte{8, 0, 2, 0, 3, 1})...), 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, h, err := jpeg.Dimensions(tc.b)
			if err != nil || w != tc.w || h != tc.h {
				t.Fatalf("Dimensions = %d, %d, %v; want %d, %d", w, h, err, tc.w, tc.h)
			}
			if cfg, err := stdjpeg.DecodeConfig(bytes.NewReader(tc.b)); err == nil && (cfg.Width != w || cfg.Height != h) {
				t.Fatalf("image/jpeg reads %dx%d, Dimensions %dx%d", cfg.Width, cfg.Height, w, h)
			}
		})
	}
	// The thumbnail really is in there, so a naive search would find it.
	if !bytes.Contains(withThumb[2:], []byte{0xFF, 0xD8}) {
		t.Fatal("test frame lost its thumbnail")
	}
	if _, err := stdjpeg.Decode(bytes.NewReader(withThumb)); err != nil {
		t.Fatalf("frame with thumbnail does not decode: %v", err)
	}
}

func TestDimensionsMalformed(t *testing.T) {
	soi := []byte{0xFF, 0xD8}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	baseline := mustEncode(t, testImage(32, 32))
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"nil", nil, "no start-of-image"},
		{"not a JPEG", []byte("GIF89a........"), "no start-of-image"},
		{"only SOI", soi, "ends before its frame header"},
		{"SOI then fill", cat(soi, []byte{0xFF, 0xFF}), "ends before its frame header"},
		{"junk after SOI", cat(soi, []byte{0x12, 0x34}), "expected a marker at offset 2"},
		{"length cut", cat(soi, []byte{0xFF, 0xE0, 0x00}), "truncated in the length"},
		{"length too small", cat(soi, []byte{0xFF, 0xE0, 0x00, 0x01}), "invalid length 1"},
		{"segment past end", cat(soi, []byte{0xFF, 0xE0, 0x10, 0x00, 1, 2, 3}), "runs past the end"},
		{"frame header cut", baseline[:30], "runs past the end"},
		{"SOS first", cat(soi, segment(0xDA, []byte{1, 1, 0, 0, 63, 0})), "before its image data"},
		{"EOI first", cat(soi, []byte{0xFF, 0xD9}), "before its end-of-image"},
		{"second SOI", cat(soi, soi), "second start-of-image"},
		{"stuffed byte", cat(soi, []byte{0xFF, 0x00}), "stuffed byte"},
		{"lossless", cat(soi, segment(0xC3, []byte{8, 0, 2, 0, 3, 1, 1, 0x11, 0})), "SOF3"},
		{"arithmetic", cat(soi, segment(0xC9, []byte{8, 0, 2, 0, 3, 1, 1, 0x11, 0})), "SOF9"},
		{"short SOF", cat(soi, segment(0xC0, []byte{8, 0, 2})), "too short"},
		{"zero height (DNL)", cat(soi, segment(0xC0, []byte{8, 0, 0, 0, 3, 1})), "no size (3x0)"},
		{"zero width", cat(soi, segment(0xC2, []byte{8, 0, 2, 0, 0, 1})), "no size (0x2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, h, err := jpeg.Dimensions(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Dimensions = %d, %d, %v; want an error containing %q", w, h, err, tc.want)
			}
		})
	}
}
