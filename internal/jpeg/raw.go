package jpeg

import (
	"encoding/binary"
	"fmt"
)

// Raw is one uncompressed camera frame, as V4L2 delivers it.
//
// Format is the V4L2 fourcc: "YUYV" (packed 4:2:2, Y0 U Y1 V), "NV12" (Y
// plane, then one plane of interleaved U V at half size), "YU12" (I420: Y,
// U and V planes, U and V at half size), "GREY" (8-bit luma), "RGB3" (RGB24)
// or "BGR3" (BGR24). Stride is the number of bytes from one row to the next
// in the first plane, 0 meaning rows are packed; the chroma planes of NV12
// and YU12 follow V4L2's layout (NV12: same stride; YU12: half). Data may be
// longer than the frame needs (V4L2 buffers often are), never shorter.
type Raw struct {
	Format        string
	Width, Height int
	Stride        int
	Data          []byte
}

// EncodeRaw converts raw to planar YCbCr (or grey), applies t to the planes
// and encodes them at quality 1..100. YUYV, NV12 and YU12 become 4:2:0
// without a detour through RGB; GREY becomes a greyscale JPEG; RGB3 and BGR3
// are colour-converted by the encoder. Frames with an unknown format, a
// size the format cannot have, or too little data are rejected with an
// error that says which: camera data is not trusted.
//
// The returned JPEG is newly allocated and belongs to the caller; raw.Data
// is only read, and not retained.
func EncodeRaw(raw Raw, quality int, t Transform) ([]byte, error) {
	o, err := t.orient()
	if err != nil {
		return nil, err
	}
	if err := checkQuality(quality); err != nil {
		return nil, err
	}
	stride, err := raw.check()
	if err != nil {
		return nil, err
	}
	if raw.Format == "RGB3" || raw.Format == "BGR3" {
		pix, w, h := raw.Data, raw.Width, raw.Height
		if !o.identity() {
			// Turning packed pixels costs one pass; converting to planes
			// first would cost the same pass plus a colour conversion that
			// the encoder does faster.
			tw, th := o.size(w, h)
			buf := getScratch(tw * th * 3)
			defer putScratch(buf)
			transformPlane(*buf, tw*3, pix, stride, w, h, 3, o)
			pix, stride, w, h = *buf, tw*3, tw, th
		}
		return encodePacked(pix, w, h, stride, raw.Format == "BGR3", quality)
	}
	p, buf := raw.planes(stride)
	defer putScratch(buf)
	if !o.identity() {
		q, qbuf := p.transformed(o)
		defer putScratch(qbuf)
		p = q
	}
	return encodePlanes(&p, quality)
}

// check validates raw and returns its effective stride. The byte counts are
// computed in 64 bits: on a 32-bit SBC a hostile Width×Stride would wrap.
func (r *Raw) check() (int, error) {
	var bpp int
	var evenW, evenH bool
	switch r.Format {
	case "YUYV":
		bpp, evenW = 2, true
	case "NV12", "YU12":
		bpp, evenW, evenH = 1, true, true
	case "GREY":
		bpp = 1
	case "RGB3", "BGR3":
		bpp = 3
	default:
		return 0, fmt.Errorf("raw frame format %q is not supported: use YUYV, NV12, YU12, GREY, RGB3 or BGR3", r.Format)
	}
	w, h := r.Width, r.Height
	if w < 1 || h < 1 || w > maxEncodeSide || h > maxEncodeSide {
		return 0, fmt.Errorf("%s frame size %dx%d is out of range 1..%d", r.Format, w, h, maxEncodeSide)
	}
	if evenW && w%2 != 0 {
		return 0, fmt.Errorf("%s frame width %d is odd: every two pixels share one chroma sample", r.Format, w)
	}
	if evenH && h%2 != 0 {
		return 0, fmt.Errorf("%s frame height %d is odd: every two rows share one chroma row", r.Format, h)
	}
	stride := r.Stride
	if stride == 0 {
		stride = w * bpp
	}
	if stride < w*bpp {
		return 0, fmt.Errorf("%s frame stride %d is less than the %d bytes of a %d-pixel row", r.Format, stride, w*bpp, w)
	}
	if r.Format == "YU12" && stride%2 != 0 {
		return 0, fmt.Errorf("YU12 frame stride %d is odd: its chroma rows are half a luma row", stride)
	}
	// The last row of the last plane needs only its pixels, not its padding.
	s, h64, w64 := int64(stride), int64(h), int64(w)
	var need int64
	switch r.Format {
	case "NV12":
		need = s*h64 + s*(h64/2-1) + w64
	case "YU12":
		need = s*h64 + s/2*(h64/2) + s/2*(h64/2-1) + w64/2
	default:
		need = s*(h64-1) + w64*int64(bpp)
	}
	if int64(len(r.Data)) < need {
		return 0, fmt.Errorf("%s frame %dx%d with stride %d needs %d bytes, got %d", r.Format, w, h, stride, need, len(r.Data))
	}
	return stride, nil
}

// planes returns the frame as planes: views into Data where the layout
// already is planar (GREY, YU12, the luma of NV12), converted scratch
// otherwise. The scratch buffer (nil if none) goes back with putScratch.
func (r *Raw) planes(stride int) (planes, *[]byte) {
	w, h := r.Width, r.Height
	switch r.Format {
	case "GREY":
		return planes{w: w, h: h, sub: subGray, y: r.Data, ys: stride}, nil
	case "YU12":
		ySize, cs := stride*h, stride/2
		cSize := cs * h / 2
		return planes{
			w: w, h: h, sub: sub420,
			y: r.Data[:ySize], cb: r.Data[ySize : ySize+cSize], cr: r.Data[ySize+cSize:],
			ys: stride, cs: cs,
		}, nil
	case "NV12":
		cw, ch := w/2, h/2
		buf := getScratch(2 * cw * ch)
		p := planes{
			w: w, h: h, sub: sub420,
			y: r.Data, cb: (*buf)[:cw*ch], cr: (*buf)[cw*ch:],
			ys: stride, cs: cw,
		}
		uv := r.Data[stride*h:]
		for y := range ch {
			deinterleave(p.cb[y*cw:(y+1)*cw], p.cr[y*cw:(y+1)*cw], uv[y*stride:y*stride+w])
		}
		return p, buf
	default: // YUYV
		p, buf := newPlanes(w, h, sub420)
		yuyvTo420(&p, r.Data, stride)
		return p, buf
	}
}

// deinterleave splits pairs u0 v0 u1 v1 ... into u and v.
func deinterleave(u, v, uv []byte) {
	uv = uv[:2*len(u)]
	v = v[:len(u)]
	for i := range u {
		u[i] = uv[2*i]
		v[i] = uv[2*i+1]
	}
}

// yuyvTo420 converts packed 4:2:2 into p's 4:2:0 planes: luma is copied and
// each chroma sample is the rounded mean of the two rows that share it. With
// an odd height the last row pairs with itself, which also fills the padding
// row of the luma plane.
func yuyvTo420(p *planes, data []byte, stride int) {
	w, h := p.w, p.h
	cw := w / 2
	for y := 0; y < h; y += 2 {
		y1 := min(y+1, h-1)
		yuyvRowsTo420(
			p.y[y*p.ys:y*p.ys+w], p.y[(y+1)*p.ys:(y+1)*p.ys+w],
			p.cb[y/2*p.cs:y/2*p.cs+cw], p.cr[y/2*p.cs:y/2*p.cs+cw],
			data[y*stride:y*stride+2*w], data[y1*stride:y1*stride+2*w])
	}
}

// yuyvRowsTo420 converts two YUYV rows r0 and r1 into luma rows l0 and l1
// and one row each of Cb and Cr. It works on two pixel pairs (8 bytes) per
// step in a 64-bit word, with each byte in a 16-bit lane so that sums of
// two bytes cannot carry into the next; that is four times faster than byte
// by byte.
func yuyvRowsTo420(l0, l1, cb, cr, r0, r1 []byte) {
	const lanes = 0x00FF00FF00FF00FF
	n := len(cb)
	l0, l1, cr = l0[:2*n], l1[:2*n], cr[:n]
	r0, r1 = r0[:4*n], r1[:4*n]
	i := 0
	for ; i+2 <= n; i += 2 {
		a := binary.LittleEndian.Uint64(r0[4*i:])
		b := binary.LittleEndian.Uint64(r1[4*i:])
		binary.LittleEndian.PutUint32(l0[2*i:], packLanes(a&lanes))
		binary.LittleEndian.PutUint32(l1[2*i:], packLanes(b&lanes))
		// Lanes: U0 V0 U1 V1, each the rounded mean of the two rows.
		c := ((a>>8)&lanes + (b>>8)&lanes + 0x0001000100010001) >> 1 & lanes
		cb[i], cb[i+1] = byte(c), byte(c>>32)
		cr[i], cr[i+1] = byte(c>>16), byte(c>>48)
	}
	for ; i < n; i++ {
		a, b := r0[4*i:4*i+4:4*i+4], r1[4*i:4*i+4:4*i+4]
		l0[2*i], l0[2*i+1] = a[0], a[2]
		l1[2*i], l1[2*i+1] = b[0], b[2]
		cb[i] = uint8((uint(a[1]) + uint(b[1]) + 1) >> 1)
		cr[i] = uint8((uint(a[3]) + uint(b[3]) + 1) >> 1)
	}
}

// packLanes gathers the low bytes of the four 16-bit lanes of v into a
// 32-bit word.
func packLanes(v uint64) uint32 {
	v = (v | v>>8) & 0x0000FFFF0000FFFF
	return uint32(v | v>>16)
}
