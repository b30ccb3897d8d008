//go:build turbojpeg && cgo

package jpeg

import (
	"bytes"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"os"
	"os/exec"
	"testing"
)

// TestNoCMemoryLeak runs every libjpeg-turbo operation, and its failure
// paths (which replace the instance), hundreds of times and checks that the C heap stops
// growing after the first frames and returns to where it was once the
// instance is freed. glibc gives each thread its own heap arena and
// mallinfo2 reports the main one only, so the test re-runs itself with a
// single arena.
func TestNoCMemoryLeak(t *testing.T) {
	if os.Getenv("USBSTREAM_JPEG_LEAK_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNoCMemoryLeak$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "USBSTREAM_JPEG_LEAK_CHILD=1", "GLIBC_TUNABLES=glibc.malloc.arena_max=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("leak test process: %v\n%s", err, out)
		}
		if bytes.Contains(out, []byte("--- SKIP")) {
			t.Skipf("leak test skipped:\n%s", out)
		}
		t.Logf("%s", out)
		return
	}
	if cHeapInUse() < 0 {
		t.Skip("mallinfo2 is not available")
	}

	// A 4:2:0 frame of whole MCUs (lossless path), one of partial MCUs
	// (planar decode-encode), a 4:1:1 frame (RGB decode-encode), a
	// truncated frame and a corrupt one (decoder errors), large enough that
	// the output buffer has to grow.
	w, h := 320, 240
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for i := range img.Y {
		img.Y[i] = uint8(i*i>>3 ^ i)
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = uint8(i), uint8(i*3)
	}
	aligned, err := Encode(img, 90)
	if err != nil {
		t.Fatal(err)
	}
	ragged, err := Encode(img.SubImage(image.Rect(0, 0, 300, 230)), 90)
	if err != nil {
		t.Fatal(err)
	}
	rgb := make([]byte, 3*w*h)
	for i := range rgb {
		rgb[i] = uint8(i * 7)
	}
	yuyv := Raw{Format: "YUYV", Width: w, Height: h, Data: rgb[:2*w*h]}
	grey := Raw{Format: "GREY", Width: w - 1, Height: h - 1, Data: rgb}
	truncated := aligned[:len(aligned)/2]
	corrupt := bytes.Clone(aligned)
	for i := len(corrupt) / 3; i < len(corrupt)/2; i++ {
		corrupt[i] = 0xFF
	}

	tj := newTJ()
	if tj == nil {
		t.Fatal("cannot create a TurboJPEG instance")
	}
	p411, err := tj.compressPacked(rgb, w, h, 3*w, 0 /* TJPF_RGB */, 5 /* TJSAMP_411 */, 80)
	if err != nil {
		t.Fatal(err)
	}
	rot90 := orient{swap: true, mirrorX: true}
	run := func() {
		for _, raw := range []Raw{yuyv, grey} {
			p, buf := raw.planes(raw.Width * map[string]int{"YUYV": 2, "GREY": 1}[raw.Format])
			if _, err := tj.compressPlanes(&p, 80); err != nil {
				t.Fatal(err)
			}
			putScratch(buf)
		}
		if _, err := tj.compressPacked(rgb, w, h, 3*w, 1 /* TJPF_BGR */, 2 /* TJSAMP_420 */, 80); err != nil {
			t.Fatal(err)
		}
		for _, in := range []struct {
			jpg     []byte
			w, h    int
			wantErr bool
		}{
			{aligned, w, h, false},
			{ragged, 300, 230, false},
			{p411, w, h, false},
			{truncated, w, h, true},
			{corrupt, w, h, true},
			{p411[:len(p411)/2], w, h, true},
		} {
			if _, err := tj.transform(in.jpg, in.w, in.h, rot90, 80); (err != nil) != in.wantErr {
				t.Fatalf("transform: error %v, want error %v", err, in.wantErr)
			}
			if tj.failed { // as put does: a failed instance is replaced
				tj.free()
				if tj = newTJ(); tj == nil {
					t.Fatal("cannot create a TurboJPEG instance")
				}
			}
		}
	}

	before := cHeapInUse()
	for range 20 {
		run()
	}
	warm := cHeapInUse()
	for range 300 {
		run()
	}
	after := cHeapInUse()
	tj.free()
	freed := cHeapInUse()
	t.Logf("C heap in use: %d before, %d warm, %d after 300 more rounds, %d after free", before, warm, after, freed)
	const slack = 64 << 10 // the Go runtime's own cgo bookkeeping
	if after-warm > slack {
		t.Errorf("C heap grew by %d bytes over 300 rounds: a leak per operation", after-warm)
	}
	if freed-before > slack {
		t.Errorf("C heap is %d bytes above its start after freeing the instance", freed-before)
	}
}

// TestTransformRGBPath checks the orientation of the fallback through packed
// RGB (4:1:1 frames), which no test picture made by Encode reaches.
func TestTransformRGBPath(t *testing.T) {
	w, h := 64, 48
	colours := [4]color.RGBA{{220, 40, 40, 255}, {40, 190, 40, 255}, {40, 60, 220, 255}, {240, 230, 60, 255}}
	rgb := make([]byte, 3*w*h)
	for y := range h {
		for x := range w {
			c := colours[(y*2/h)*2+x*2/w]
			copy(rgb[3*(y*w+x):], []byte{c.R, c.G, c.B})
		}
	}
	tj := newTJ()
	defer tj.free()
	jpg, err := tj.compressPacked(rgb, w, h, 3*w, 0, 5 /* TJSAMP_411 */, 95)
	if err != nil {
		t.Fatal(err)
	}
	// Rotate 90 with a horizontal flip is the transverse: bottom right to
	// top left, top left to bottom right.
	out, err := tj.transform(jpg, w, h, orient{swap: true, mirrorX: true, mirrorY: true}, 95)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := decodeForTest(out)
	if err != nil {
		t.Fatal(err)
	}
	if dec.Bounds().Size() != image.Pt(h, w) {
		t.Fatalf("output is %v, want %dx%d", dec.Bounds().Size(), h, w)
	}
	for _, c := range []struct {
		x, y int
		want color.RGBA
	}{{5, 5, colours[3]}, {h - 6, w - 6, colours[0]}, {h - 6, 5, colours[1]}, {5, w - 6, colours[2]}} {
		got := color.RGBAModel.Convert(dec.At(c.x, c.y)).(color.RGBA)
		if d := max(diff(got.R, c.want.R), diff(got.G, c.want.G), diff(got.B, c.want.B)); d > 30 {
			t.Errorf("at (%d, %d) colour %v, want %v", c.x, c.y, got, c.want)
		}
	}
}

func diff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func decodeForTest(b []byte) (image.Image, error) { return stdjpeg.Decode(bytes.NewReader(b)) }
