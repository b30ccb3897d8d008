package jpeg_test

import (
	"bytes"
	"image"
	stdjpeg "image/jpeg"
	"testing"
	"usbstream/internal/jpeg/jpegtest"

	"usbstream/internal/jpeg"
)

// stripDHT returns jpg without the DHT segments before its first scan, the
// way many UVC cameras send MJPEG. It fails the test if jpg had none.
func stripDHT(t testing.TB, jpg []byte) []byte {
	t.Helper()
	out := []byte{0xFF, 0xD8}
	i, dropped := 2, 0
	for i+4 <= len(jpg) {
		m := jpg[i+1]
		if m == 0xDA {
			break
		}
		n := 2 + (int(jpg[i+2])<<8 | int(jpg[i+3]))
		if m != 0xC4 {
			out = append(out, jpg[i:i+n]...)
		} else {
			dropped++
		}
		i += n
	}
	if dropped == 0 {
		t.Fatal("test frame has no DHT to strip")
	}
	return append(out, jpg[i:]...)
}

func stdEncode(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := stdjpeg.Encode(&b, img, &stdjpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestEnsureHuffmanTablesRestoresStripped(t *testing.T) {
	grey := image.NewGray(image.Rect(0, 0, 40, 24))
	for i := range grey.Pix {
		grey.Pix[i] = uint8(i * 7)
	}
	for _, tc := range []struct {
		name string
		img  image.Image
	}{
		{"colour", noiseImage(64, 48, 1)},
		{"grey", grey},
		{"odd size", noiseImage(37, 19, 2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := stdEncode(t, tc.img)
			bare := stripDHT(t, orig)
			// Without tables image/jpeg cannot decode the frame at all.
			if _, err := stdjpeg.Decode(bytes.NewReader(bare)); err == nil {
				t.Fatal("image/jpeg decoded a frame without Huffman tables; the test proves nothing")
			}
			fixed := jpeg.EnsureHuffmanTables(bare)
			if !samePixels(t, orig, fixed) {
				t.Fatal("the frame with inserted tables decodes differently from the original")
			}
			if err := jpeg.Check(fixed); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestEnsureHuffmanTablesIsAnnexK: image/jpeg writes the four Annex K
// tables in one DHT right before SOS; removing it and inserting ours must
// give back the very same bytes, which checks every code length and symbol
// of the tables, not only those a test picture happens to use.
func TestEnsureHuffmanTablesIsAnnexK(t *testing.T) {
	orig := stdEncode(t, noiseImage(32, 32, 5))
	if got := jpeg.EnsureHuffmanTables(stripDHT(t, orig)); !bytes.Equal(got, orig) {
		t.Fatalf("inserted tables differ from image/jpeg's Annex K tables")
	}
}

func TestEnsureHuffmanTablesLeavesOthersAlone(t *testing.T) {
	valid := stdEncode(t, noiseImage(32, 32, 6))
	withThumb := jpegtest.WithExifThumbnail(valid, stripDHT(t, valid)) // the thumbnail lacks tables, the frame has them
	soi := []byte{0xFF, 0xD8}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"has DHT", valid},
		{"exif thumbnail without DHT", withThumb},
		{"made by Encode", mustEncode(t, testImage(48, 32))},
		{"nil", nil},
		{"not a JPEG", bytes.Repeat([]byte{0xAB}, 50)},
		{"SOI only", soi},
		{"truncated before SOS", valid[:100]},
		{"segment past end", append(bytes.Clone(soi), 0xFF, 0xE0, 0x40, 0x00, 1, 2)},
		{"length below 2", append(bytes.Clone(soi), 0xFF, 0xE0, 0x00, 0x01, 0xFF, 0xDA)},
		{"junk between segments", append(bytes.Clone(soi), 0x00, 0xFF, 0xDA, 0, 2)},
		{"EOI before SOS", append(bytes.Clone(soi), 0xFF, 0xD9, 0xFF, 0xDA)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := jpeg.EnsureHuffmanTables(tc.b)
			if len(got) != len(tc.b) || (len(got) > 0 && &got[0] != &tc.b[0]) {
				t.Fatalf("EnsureHuffmanTables returned %d bytes, not its %d-byte input", len(got), len(tc.b))
			}
		})
	}
}

func TestEnsureHuffmanTablesInsertsBeforeFirstScan(t *testing.T) {
	orig := stdEncode(t, noiseImage(16, 16, 8))
	bare := stripDHT(t, orig)
	// An APP14 segment and fill bytes before the scan are kept as they are.
	app := segment(0xEE, []byte("Adobe\x00\x64\x00\x00\x00\x00\x01"))
	sos := bytes.Index(bare, []byte{0xFF, 0xDA})
	in := append(append(append(bytes.Clone(bare[:sos]), app...), 0xFF, 0xFF), bare[sos:]...)
	out := jpeg.EnsureHuffmanTables(in)
	dht := bytes.Index(out, []byte{0xFF, 0xC4})
	if dht < 0 || !bytes.Equal(out[:dht], in[:len(in)-len(bare[sos:])-2]) {
		t.Fatalf("tables not inserted right before the scan's marker")
	}
	if !samePixels(t, orig, out) {
		t.Fatal("frame with fill bytes decodes differently")
	}
}
