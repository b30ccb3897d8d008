package jpeg

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Transform is a rotation and mirroring applied to a frame before it is
// published, for cameras mounted sideways or upside down. The flips are
// applied first, in the camera's own orientation, and the result is then
// turned Rotate degrees clockwise; so {Rotate: 90, FlipH: true} mirrors the
// picture left-right and then turns it a quarter clockwise. The zero value
// leaves frames alone.
type Transform struct {
	Rotate int // clockwise degrees: 0, 90, 180 or 270
	FlipH  bool
	FlipV  bool
}

// IsIdentity reports whether t leaves every pixel where it is, which is also
// true of FlipH and FlipV together with Rotate 180. A Transform with an
// invalid Rotate is not the identity (using it fails).
func (t Transform) IsIdentity() bool {
	o, err := t.orient()
	return err == nil && o == orient{}
}

// orient is a Transform reduced to one of the eight symmetries of a
// rectangle: destination (dx, dy) of source pixel (x, y) in a w×h image is
//
//	!swap: dx = x or w-1-x (mirrorX),  dy = y or h-1-y (mirrorY)
//	 swap: dx = y or h-1-y (mirrorX),  dy = x or w-1-x (mirrorY)
//
// Different Transforms with the same effect reduce to the same orient, so
// callers compare and dispatch on it rather than on the fields.
type orient struct {
	swap, mirrorX, mirrorY bool
}

func (t Transform) orient() (orient, error) {
	turns := 0
	switch t.Rotate {
	case 0:
	case 90:
		turns = 1
	case 180:
		turns = 2
	case 270:
		turns = 3
	default:
		return orient{}, fmt.Errorf("rotation %d is not supported: use 0, 90, 180 or 270 (degrees clockwise)", t.Rotate)
	}
	o := orient{mirrorX: t.FlipH, mirrorY: t.FlipV}
	for range turns {
		// Turning (dx, dy) in a W×H picture a quarter clockwise gives
		// (H-1-dy, dx): the new x is the old y mirrored, the new y the old x.
		o = orient{swap: !o.swap, mirrorX: !o.mirrorY, mirrorY: o.mirrorX}
	}
	return o, nil
}

func (o orient) identity() bool { return o == orient{} }

// Mirrors reports whether t is at most a horizontal and a vertical mirror
// (no quarter turn), and which: such a transform can be left to a camera's
// own flip controls. Rotate 180 is both mirrors.
func (t Transform) Mirrors() (h, v, ok bool) {
	o, err := t.orient()
	if err != nil || o.swap {
		return false, false, false
	}
	return o.mirrorX, o.mirrorY, true
}

// SwapsSize reports whether t turns a W×H picture into H×W.
func (t Transform) SwapsSize() bool {
	o, err := t.orient()
	return err == nil && o.swap
}

// size returns the size of a w×h picture after o.
func (o orient) size(w, h int) (int, int) {
	if o.swap {
		return h, w
	}
	return w, h
}

// transformPlane writes the w×h elements of bpp bytes at src (rows sstride
// bytes apart) to dst (rows dstride apart) in orientation o. dst must hold
// the transformed size; the caller checks that, this is the inner loop.
func transformPlane(dst []byte, dstride int, src []byte, sstride, w, h, bpp int, o orient) {
	if w <= 0 || h <= 0 {
		return
	}
	// Source element (x, y) goes to dst[base + x*ax + y*ay].
	var base, ax, ay int
	if !o.swap {
		ax, ay = bpp, dstride
		if o.mirrorX {
			base, ax = (w-1)*bpp, -bpp
		}
		if o.mirrorY {
			base, ay = base+(h-1)*dstride, -dstride
		}
	} else {
		ax, ay = dstride, bpp
		if o.mirrorX {
			base, ay = (h-1)*bpp, -bpp
		}
		if o.mirrorY {
			base, ax = base+(w-1)*dstride, -dstride
		}
	}
	rowBytes := w * bpp
	switch {
	case !o.swap && !o.mirrorX:
		for y := range h {
			d := base + y*ay
			copy(dst[d:d+rowBytes], src[y*sstride:y*sstride+rowBytes])
		}
	case !o.swap && bpp == 1:
		for y := range h {
			d := base + y*ay - (w - 1)
			reverseBytes(dst[d:d+w], src[y*sstride:y*sstride+w])
		}
	case o.swap && bpp == 1:
		transposePlane(dst, dstride, src, sstride, w, h, o)
	default:
		// RGB and RGBA pictures: only the pure-Go path and packed RGB input
		// get here, where the encoder costs far more than this loop.
		for y := range h {
			s := src[y*sstride : y*sstride+rowBytes]
			d := base + y*ay
			for x := 0; x < rowBytes; x += bpp {
				copy(dst[d:d+bpp], s[x:x+bpp])
				d += ax
			}
		}
	}
}

// reverseBytes writes src into dst back to front, eight bytes per step.
func reverseBytes(dst, src []byte) {
	n := len(src)
	dst = dst[:n]
	i := 0
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(dst[n-i-8:], bits.ReverseBytes64(binary.LittleEndian.Uint64(src[i:])))
	}
	for ; i < n; i++ {
		dst[n-1-i] = src[i]
	}
}

// transposePlane is transformPlane for the quarter turns of one-byte
// samples. It moves 8x8 blocks through registers: eight 8-byte loads, a
// transpose in 24 word operations, eight 8-byte stores. A byte-at-a-time
// walk is several times slower, because every byte it writes lands in a
// different destination row.
func transposePlane(dst []byte, dstride int, src []byte, sstride, w, h int, o orient) {
	// Source column x becomes destination row x (or w-1-x), source row y
	// destination column y (or h-1-y).
	row0, rowStep := 0, dstride
	if o.mirrorY {
		row0, rowStep = (w-1)*dstride, -dstride
	}
	col := func(y int) int {
		if o.mirrorX {
			return h - 1 - y
		}
		return y
	}
	w8, h8 := w&^7, h&^7
	le := binary.LittleEndian
	for by := 0; by < h8; by += 8 {
		// Bytes y = by..by+7 of a destination row are consecutive, from
		// column c, and run backwards when x is mirrored.
		c := by
		if o.mirrorX {
			c = h - 8 - by
		}
		for bx := 0; bx < w8; bx += 8 {
			s := src[by*sstride+bx:]
			r0, r1, r2, r3, r4, r5, r6, r7 := transpose8(
				le.Uint64(s), le.Uint64(s[sstride:]), le.Uint64(s[2*sstride:]), le.Uint64(s[3*sstride:]),
				le.Uint64(s[4*sstride:]), le.Uint64(s[5*sstride:]), le.Uint64(s[6*sstride:]), le.Uint64(s[7*sstride:]))
			if o.mirrorX {
				r0, r1, r2, r3 = bits.ReverseBytes64(r0), bits.ReverseBytes64(r1), bits.ReverseBytes64(r2), bits.ReverseBytes64(r3)
				r4, r5, r6, r7 = bits.ReverseBytes64(r4), bits.ReverseBytes64(r5), bits.ReverseBytes64(r6), bits.ReverseBytes64(r7)
			}
			d := row0 + bx*rowStep + c
			le.PutUint64(dst[d:], r0)
			le.PutUint64(dst[d+rowStep:], r1)
			le.PutUint64(dst[d+2*rowStep:], r2)
			le.PutUint64(dst[d+3*rowStep:], r3)
			le.PutUint64(dst[d+4*rowStep:], r4)
			le.PutUint64(dst[d+5*rowStep:], r5)
			le.PutUint64(dst[d+6*rowStep:], r6)
			le.PutUint64(dst[d+7*rowStep:], r7)
		}
	}
	// The right columns and bottom rows that do not fill a block.
	for y := range h {
		x0 := w8
		if y >= h8 {
			x0 = 0
		}
		for x := x0; x < w; x++ {
			dst[row0+x*rowStep+col(y)] = src[y*sstride+x]
		}
	}
}

// transpose8 transposes the 8x8 byte matrix whose row i is ri (column j in
// byte j, little-endian): swap the off-diagonal 4x4 blocks, then the 2x2
// blocks inside them, then single bytes. Eight arguments and results fit in
// registers, so nothing goes through memory.
func transpose8(r0, r1, r2, r3, r4, r5, r6, r7 uint64) (uint64, uint64, uint64, uint64, uint64, uint64, uint64, uint64) {
	const lo32, hi32 = 0x00000000FFFFFFFF, 0xFFFFFFFF00000000
	r0, r4 = r0&lo32|r4<<32, r0>>32|r4&hi32
	r1, r5 = r1&lo32|r5<<32, r1>>32|r5&hi32
	r2, r6 = r2&lo32|r6<<32, r2>>32|r6&hi32
	r3, r7 = r3&lo32|r7<<32, r3>>32|r7&hi32
	const lo16, hi16 = 0x0000FFFF0000FFFF, 0xFFFF0000FFFF0000
	r0, r2 = r0&lo16|(r2&lo16)<<16, (r0>>16)&lo16|r2&hi16
	r1, r3 = r1&lo16|(r3&lo16)<<16, (r1>>16)&lo16|r3&hi16
	r4, r6 = r4&lo16|(r6&lo16)<<16, (r4>>16)&lo16|r6&hi16
	r5, r7 = r5&lo16|(r7&lo16)<<16, (r5>>16)&lo16|r7&hi16
	const lo8, hi8 = 0x00FF00FF00FF00FF, 0xFF00FF00FF00FF00
	r0, r1 = r0&lo8|(r1&lo8)<<8, (r0>>8)&lo8|r1&hi8
	r2, r3 = r2&lo8|(r3&lo8)<<8, (r2>>8)&lo8|r3&hi8
	r4, r5 = r4&lo8|(r5&lo8)<<8, (r4>>8)&lo8|r5&hi8
	r6, r7 = r6&lo8|(r7&lo8)<<8, (r6>>8)&lo8|r7&hi8
	return r0, r1, r2, r3, r4, r5, r6, r7
}

// maxPixelsPerByte bounds how many pixels a Huffman-coded JPEG can hold per
// byte of data: every 8x8 luma block costs at least one bit (a DC code), so
// 512 pixels per byte. A header claiming more is lying, and believing it
// would allocate planes for a picture that is not there.
const maxPixelsPerByte = 512

// maxTransformPixels caps the picture TransformJPEG handles, whatever the
// file claims: 8K (33 MP) fits twice, and the decode planes stay under
// 100 MB on an SBC.
const maxTransformPixels = 1 << 26

// TransformJPEG rotates and flips an encoded frame (an MJPEG camera frame)
// as t says and returns a new JPEG encoded at quality; 90 and 270 degrees
// swap width and height, and nothing is ever cropped. Frames without Huffman
// tables are completed first (see EnsureHuffmanTables). Corrupt or truncated
// frames are errors, not half-grey pictures.
//
// Both implementations decode to planes, transform them and encode: with
// libjpeg-turbo that measured faster than its lossless DCT-domain transform
// (BENCHMARKS.md; lossless_bench.go keeps the comparison), and image/jpeg,
// several times slower, has no other way (see Implementation). An identity
// t returns jpg itself unchecked.
func TransformJPEG(jpg []byte, t Transform, quality int) ([]byte, error) {
	o, err := t.orient()
	if err != nil {
		return nil, err
	}
	if err := checkQuality(quality); err != nil {
		return nil, err
	}
	if o.identity() {
		return jpg, nil
	}
	jpg = EnsureHuffmanTables(jpg)
	// Dimensions rejects what neither implementation should take on
	// (arithmetic coding, lossless, DNL), so both fail alike on it.
	w, h, err := Dimensions(jpg)
	if err != nil {
		return nil, err
	}
	px := int64(w) * int64(h)
	if px > maxTransformPixels {
		return nil, fmt.Errorf("cannot transform a %dx%d JPEG: the limit is %d pixels", w, h, maxTransformPixels)
	}
	if px > int64(maxPixelsPerByte)*int64(len(jpg)) {
		return nil, fmt.Errorf("corrupt JPEG: %d bytes cannot hold the %dx%d picture its header claims", len(jpg), w, h)
	}
	return transformJPEG(jpg, w, h, o, quality)
}

func checkQuality(q int) error {
	if q < 1 || q > 100 {
		return fmt.Errorf("JPEG quality %d is out of range 1..100", q)
	}
	return nil
}
