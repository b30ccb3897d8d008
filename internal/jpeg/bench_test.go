package jpeg_test

import (
	"fmt"
	"image"
	"testing"

	"usbstream/internal/jpeg"
)

// Run with and without the libjpeg-turbo build, and take the median of
// the five runs (the VM's timings vary by several per cent run to run):
//
//	go test -run '^$' -bench . -benchtime 1s -count 5 ./internal/jpeg
//	go test -tags turbojpeg -run '^$' -bench . -benchtime 1s -count 5 ./internal/jpeg
//
// -tags turbojpeg,benchlossless adds libjpeg-turbo's lossless transform to
// BenchmarkTransformJPEG (see lossless_bench.go).

var benchSizes = []image.Point{{640, 480}, {1280, 720}, {1920, 1080}}

func sizeName(p image.Point) string { return fmt.Sprintf("%dx%d", p.X, p.Y) }

// cameraYUYV is a YUYV frame with the texture of noiseImage.
func cameraYUYV(w, h int) jpeg.Raw {
	img := noisePicture(w, h, 11, image.YCbCrSubsampleRatio422)
	data := make([]byte, 2*w*h)
	for y := range h {
		for x := 0; x < w; x += 2 {
			c := img.COffset(x, y)
			copy(data[2*(y*w+x):], []byte{img.Y[img.YOffset(x, y)], img.Cb[c], img.Y[img.YOffset(x+1, y)], img.Cr[c]})
		}
	}
	return jpeg.Raw{Format: "YUYV", Width: w, Height: h, Data: data}
}

func BenchmarkEncodeRaw(b *testing.B) {
	for _, tc := range []struct {
		name string
		t    jpeg.Transform
	}{{"YUYV", jpeg.Transform{}}, {"YUYV-rot90", jpeg.Transform{Rotate: 90}}} {
		b.Run(tc.name, func(b *testing.B) {
			for _, size := range benchSizes {
				raw := cameraYUYV(size.X, size.Y)
				b.Run(sizeName(size), func(b *testing.B) {
					b.ReportAllocs()
					var n int
					for b.Loop() {
						out, err := jpeg.EncodeRaw(raw, 80, tc.t)
						if err != nil {
							b.Fatal(err)
						}
						n = len(out)
					}
					b.ReportMetric(float64(n), "B/frame")
				})
			}
		})
	}
}

// cameraJPEG is a frame as a UVC camera sends it: 4:2:2 at quality 80.
// image/jpeg cannot write 4:2:2, so the pure-Go build benchmarks 4:2:0.
func cameraJPEG(b *testing.B, w, h int) []byte {
	jpg, err := jpeg.Encode(noisePicture(w, h, 12, image.YCbCrSubsampleRatio422), 80)
	if err != nil {
		b.Fatal(err)
	}
	return jpg
}

// transformers are the ways to turn a JPEG that BenchmarkTransformJPEG
// compares: TransformJPEG's decode-encode, and with -tags benchlossless the
// lossless transform it measured slower than.
var transformers = []struct {
	name string
	fn   func([]byte, jpeg.Transform, int) ([]byte, error)
}{
	{"decode-encode", jpeg.TransformJPEG},
}

func BenchmarkTransformJPEG(b *testing.B) {
	inputs := make(map[image.Point][]byte)
	for _, st := range transformers {
		b.Run(st.name, func(b *testing.B) {
			for _, size := range benchSizes {
				b.Run(sizeName(size), func(b *testing.B) {
					if inputs[size] == nil {
						inputs[size] = cameraJPEG(b, size.X, size.Y)
					}
					for _, rot := range []int{90, 180} {
						b.Run(fmt.Sprint(rot), func(b *testing.B) {
							t := jpeg.Transform{Rotate: rot}
							b.ReportAllocs()
							var n int
							for b.Loop() {
								out, err := st.fn(inputs[size], t, 80)
								if err != nil {
									b.Fatal(err)
								}
								n = len(out)
							}
							b.ReportMetric(float64(n), "B/frame")
						})
					}
				})
			}
		})
	}
}

func BenchmarkEnsureHuffmanTables(b *testing.B) {
	full := cameraJPEG(b, 1280, 720)
	bare := stripDHT(b, full)
	for _, tc := range []struct {
		name string
		jpg  []byte
	}{{"missing", bare}, {"present", full}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				jpeg.EnsureHuffmanTables(tc.jpg)
			}
		})
	}
}
