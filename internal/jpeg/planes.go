package jpeg

import "image"

// subsamp is a chroma subsampling. The values are TurboJPEG's TJSAMP_*
// constants so the cgo code can pass them through unchanged.
type subsamp int

const (
	sub444  subsamp = 0
	sub422  subsamp = 1
	sub420  subsamp = 2
	subGray subsamp = 3
	sub440  subsamp = 4
)

// factors returns how many luma pixels share one chroma sample
// horizontally and vertically.
func (s subsamp) factors() (h, v int) {
	switch s {
	case sub422:
		return 2, 1
	case sub420:
		return 2, 2
	case sub440:
		return 1, 2
	default:
		return 1, 1
	}
}

// transposed is the subsampling of a picture after a quarter turn.
func (s subsamp) transposed() subsamp {
	switch s {
	case sub422:
		return sub440
	case sub440:
		return sub422
	default:
		return s
	}
}

// planes is a planar YCbCr or grey picture, the input both encoders take
// without a colour conversion. The planes may be views into a camera buffer
// or an image, or scratch memory from newPlanes. TurboJPEG reads the luma
// plane rounded up to whole chroma samples (35x21 in 4:2:0 reads 36x22), so
// planes handed to it must be aligned or come from newPlanes, which pads
// them with copies of the edge.
type planes struct {
	w, h   int
	sub    subsamp
	y      []byte
	cb, cr []byte // nil for grey
	ys, cs int    // row strides of y and of cb/cr
}

// planeGeometry returns the strides and row counts of tightly packed planes
// for a w×h picture.
func planeGeometry(w, h int, sub subsamp) (ys, yRows, cs, cRows int) {
	hs, vs := sub.factors()
	ys, yRows = roundUp(w, hs), roundUp(h, vs)
	if sub == subGray {
		return ys, yRows, 0, 0
	}
	return ys, yRows, ys / hs, yRows / vs
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// chromaSize returns the number of chroma samples per row and per column
// that carry picture content.
func (p *planes) chromaSize() (int, int) {
	if p.sub == subGray {
		return 0, 0
	}
	hs, vs := p.sub.factors()
	return (p.w + hs - 1) / hs, (p.h + vs - 1) / vs
}

// newPlanes lays out w×h planes in a scratch buffer from the pool. The
// caller returns the buffer with putScratch when the planes are dead.
func newPlanes(w, h int, sub subsamp) (planes, *[]byte) {
	ys, yRows, cs, cRows := planeGeometry(w, h, sub)
	n := ys*yRows + 2*cs*cRows
	buf := getScratch(n)
	b := *buf
	p := planes{w: w, h: h, sub: sub, ys: ys, cs: cs, y: b[:ys*yRows]}
	if sub != subGray {
		p.cb = b[ys*yRows : ys*yRows+cs*cRows]
		p.cr = b[ys*yRows+cs*cRows : n]
	}
	return p, buf
}

// padEdges copies the last column and row of the luma plane into the padding
// beyond w×h, so that the encoder's edge blocks hold no stale data that
// could ring into the picture.
func (p *planes) padEdges() {
	ys, yRows, _, _ := planeGeometry(p.w, p.h, p.sub)
	if ys > p.w {
		for y := range p.h {
			row := p.y[y*p.ys : y*p.ys+ys]
			for x := p.w; x < ys; x++ {
				row[x] = row[p.w-1]
			}
		}
	}
	last := p.y[(p.h-1)*p.ys : (p.h-1)*p.ys+ys]
	for y := p.h; y < yRows; y++ {
		copy(p.y[y*p.ys:y*p.ys+ys], last)
	}
}

// transformed returns src in orientation o, in new scratch planes that the
// caller releases with putScratch.
func (src *planes) transformed(o orient) (planes, *[]byte) {
	w, h := o.size(src.w, src.h)
	sub := src.sub
	if o.swap {
		sub = sub.transposed()
	}
	dst, buf := newPlanes(w, h, sub)
	transformPlane(dst.y, dst.ys, src.y, src.ys, src.w, src.h, 1, o)
	if src.sub != subGray {
		cw, ch := src.chromaSize()
		transformPlane(dst.cb, dst.cs, src.cb, src.cs, cw, ch, 1, o)
		transformPlane(dst.cr, dst.cs, src.cr, src.cs, cw, ch, 1, o)
	}
	dst.padEdges()
	return dst, buf
}

// planesOf returns img's planes without copying when img is a picture the
// encoders take as planes: YCbCr in 4:4:4, 4:2:2, 4:2:0 or 4:4:0 starting on
// a chroma sample, or Gray. The planes are not padded (see planes).
func planesOf(img image.Image) (planes, bool) {
	switch m := img.(type) {
	case *image.YCbCr:
		var sub subsamp
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio444:
			sub = sub444
		case image.YCbCrSubsampleRatio422:
			sub = sub422
		case image.YCbCrSubsampleRatio420:
			sub = sub420
		case image.YCbCrSubsampleRatio440:
			sub = sub440
		default:
			return planes{}, false
		}
		hs, vs := sub.factors()
		r := m.Rect
		if r.Empty() || r.Min.X%hs != 0 || r.Min.Y%vs != 0 {
			return planes{}, false
		}
		yi, ci := m.YOffset(r.Min.X, r.Min.Y), m.COffset(r.Min.X, r.Min.Y)
		return planes{
			w: r.Dx(), h: r.Dy(), sub: sub,
			y: m.Y[yi:], cb: m.Cb[ci:], cr: m.Cr[ci:],
			ys: m.YStride, cs: m.CStride,
		}, true
	case *image.Gray:
		if m.Rect.Empty() {
			return planes{}, false
		}
		return planes{w: m.Rect.Dx(), h: m.Rect.Dy(), sub: subGray, y: m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], ys: m.Stride}, true
	}
	return planes{}, false
}
