package jpeg

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// allOrients lists the eight orientations by their three flags.
func allOrients() []orient {
	var all []orient
	for i := range 8 {
		all = append(all, orient{swap: i&4 != 0, mirrorX: i&2 != 0, mirrorY: i&1 != 0})
	}
	return all
}

// TestTransformPlaneMatchesDefinition compares the block and word kernels
// with the definition of orient applied one element at a time, on random
// bytes, for sizes around the 8-byte blocks, strides with slack, and every
// element size the package uses.
func TestTransformPlaneMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, bpp := range []int{1, 3, 4} {
		for _, w := range []int{1, 2, 7, 8, 9, 16, 23, 40} {
			for _, h := range []int{1, 3, 8, 15, 17} {
				src := make([]byte, (w*bpp+5)*h)
				for i := range src {
					src[i] = byte(rng.Uint32())
				}
				sstride := w*bpp + 5
				for _, o := range allOrients() {
					tw, th := o.size(w, h)
					dstride := tw*bpp + 3
					got := bytes.Repeat([]byte{0xEE}, dstride*th)
					want := bytes.Clone(got)
					transformPlane(got, dstride, src, sstride, w, h, bpp, o)
					for y := range h {
						for x := range w {
							dx, dy := x, y
							if o.mirrorX {
								dx = w - 1 - x
							}
							if o.mirrorY {
								dy = h - 1 - y
							}
							if o.swap {
								dx, dy = y, x
								if o.mirrorX {
									dx = h - 1 - y
								}
								if o.mirrorY {
									dy = w - 1 - x
								}
							}
							copy(want[dy*dstride+dx*bpp:][:bpp], src[y*sstride+x*bpp:][:bpp])
						}
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("bpp %d, %dx%d, %+v: result differs from the definition", bpp, w, h, o)
					}
				}
			}
		}
	}
}

// TestOrientOfTransform: quarter turns, and only they, swap width and
// height, and the four rotations with and without a flip reach all eight
// orientations. Where each pixel goes is TestEncodeRawOrientation's job.
func TestOrientOfTransform(t *testing.T) {
	for _, fh := range []bool{false, true} {
		for _, fv := range []bool{false, true} {
			for _, r := range []int{0, 90, 180, 270} {
				o, err := Transform{Rotate: r, FlipH: fh, FlipV: fv}.orient()
				if err != nil {
					t.Fatal(err)
				}
				if o.swap != (r%180 != 0) {
					t.Errorf("rotate %d: swap = %v", r, o.swap)
				}
			}
		}
	}
	seen := map[orient]bool{}
	for _, r := range []int{0, 90, 180, 270} {
		for _, fh := range []bool{false, true} {
			o, _ := Transform{Rotate: r, FlipH: fh}.orient()
			seen[o] = true
		}
	}
	if len(seen) != 8 {
		t.Fatalf("rotations with and without a flip give %d distinct orientations, want all 8", len(seen))
	}
}

func TestYUYVTo420MatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, w := range []int{2, 4, 6, 10, 64, 66} {
		for _, h := range []int{1, 2, 3, 7, 8} {
			t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
				stride := 2*w + 6
				data := make([]byte, stride*h)
				for i := range data {
					data[i] = byte(rng.Uint32())
				}
				p, buf := newPlanes(w, h, sub420)
				defer putScratch(buf)
				yuyvTo420(&p, data, stride)
				for y := range p.h + p.h%2 { // the padding row copies the last
					sy := min(y, h-1)
					for x := range w {
						if got, want := p.y[y*p.ys+x], data[sy*stride+2*x]; got != want {
							t.Fatalf("luma (%d, %d) = %d, want %d", x, y, got, want)
						}
					}
				}
				for cy := range (h + 1) / 2 {
					r0, r1 := 2*cy, min(2*cy+1, h-1)
					for cx := range w / 2 {
						for k, plane := range [][]byte{p.cb, p.cr} {
							a, b := int(data[r0*stride+4*cx+1+2*k]), int(data[r1*stride+4*cx+1+2*k])
							if got, want := int(plane[cy*p.cs+cx]), (a+b+1)/2; got != want {
								t.Fatalf("chroma %d at (%d, %d) = %d, want %d", k, cx, cy, got, want)
							}
						}
					}
				}
			})
		}
	}
}

// BenchmarkTransformPlane measures the rotation of a 1080p luma plane
// alone, the part of EncodeRaw's cost that a Transform adds.
func BenchmarkTransformPlane(b *testing.B) {
	w, h := 1920, 1080
	src := make([]byte, w*h)
	dst := make([]byte, w*h)
	for _, tc := range []struct {
		name string
		o    orient
	}{{"rot90", orient{swap: true, mirrorX: true}}, {"rot180", orient{mirrorX: true, mirrorY: true}}, {"flipV", orient{mirrorY: true}}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(w * h))
			for b.Loop() {
				tw, _ := tc.o.size(w, h)
				transformPlane(dst, tw, src, w, w, h, 1, tc.o)
			}
		})
	}
}

func BenchmarkYUYVTo420(b *testing.B) {
	w, h := 1920, 1080
	data := make([]byte, 2*w*h)
	p, _ := newPlanes(w, h, sub420)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		yuyvTo420(&p, data, 2*w)
	}
}
