//go:build !turbojpeg

package jpeg

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	stdjpeg "image/jpeg"
)

// Implementation names the JPEG codec compiled in, for the startup log.
// This build uses the standard library; rotating MJPEG frames with it
// decodes and re-encodes every frame, several times slower than
// libjpeg-turbo (build with -tags turbojpeg).
func Implementation() string { return "pure Go (image/jpeg)" }

// jpegBuffer lets image/jpeg write straight into memory: with a Flush
// method it is used as is instead of behind a 4 KB bufio.Writer per frame.
type jpegBuffer struct{ bytes.Buffer }

func (*jpegBuffer) Flush() error { return nil }

// encode is the pure-Go encoder. image/jpeg has fast paths for the image
// types Encode documents and always writes 4:2:0 for colour images.
func encode(img image.Image, quality int) ([]byte, error) {
	var buf jpegBuffer
	// One byte per 16 pixels is about what a camera scene needs at quality
	// 80, so most frames need no regrowth and flat ones little slack.
	b := img.Bounds()
	buf.Grow(b.Dx()*b.Dy()/16 + 1024)
	if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("encode JPEG: %w", err)
	}
	return buf.Bytes(), nil
}

// encodePlanes encodes p through image/jpeg's YCbCr or Gray fast path.
func encodePlanes(p *planes, quality int) ([]byte, error) {
	return encode(p.image(), quality)
}

// encodePacked encodes 24-bit RGB or BGR pixels. image/jpeg's fast path for
// RGB is *image.RGBA, so the pixels are widened into scratch first.
func encodePacked(pix []byte, w, h, stride int, bgr bool, quality int) ([]byte, error) {
	buf := getScratch(4 * w * h)
	defer putScratch(buf)
	rgba := &image.RGBA{Pix: *buf, Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
	ri, bi := 0, 2
	if bgr {
		ri, bi = 2, 0
	}
	for y := range h {
		src := pix[y*stride : y*stride+3*w]
		dst := rgba.Pix[y*rgba.Stride : y*rgba.Stride+4*w]
		for x := range w {
			s, d := src[3*x:3*x+3:3*x+3], dst[4*x:4*x+4:4*x+4]
			d[0], d[1], d[2], d[3] = s[ri], s[1], s[bi], 0xFF
		}
	}
	return encode(rgba, quality)
}

// transformJPEG decodes, transforms the planes and re-encodes: image/jpeg
// cannot reach the DCT coefficients, so there is no other way here.
func transformJPEG(jpg []byte, _, _ int, o orient, quality int) ([]byte, error) {
	img, err := stdjpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		return nil, fmt.Errorf("decode JPEG: %w", err)
	}
	if p, ok := planesOf(img); ok {
		q, buf := p.transformed(o)
		defer putScratch(buf)
		return encodePlanes(&q, quality)
	}
	// 4:1:1, CMYK and Adobe RGB frames (no camera sends them) go through
	// RGBA, which image/draw converts to from anything.
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	tw, th := o.size(w, h)
	buf := getScratch(4 * w * h * 2)
	defer putScratch(buf)
	src := &image.RGBA{Pix: (*buf)[:4*w*h], Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
	draw.Draw(src, src.Rect, img, b.Min, draw.Src)
	dst := &image.RGBA{Pix: (*buf)[4*w*h:], Stride: 4 * tw, Rect: image.Rect(0, 0, tw, th)}
	transformPlane(dst.Pix, dst.Stride, src.Pix, src.Stride, w, h, 4, o)
	return encode(dst, quality)
}

// image returns p as an image.Image sharing its memory.
func (p *planes) image() image.Image {
	r := image.Rect(0, 0, p.w, p.h)
	if p.sub == subGray {
		return &image.Gray{Pix: p.y, Stride: p.ys, Rect: r}
	}
	ratio := image.YCbCrSubsampleRatio420
	switch p.sub {
	case sub444:
		ratio = image.YCbCrSubsampleRatio444
	case sub422:
		ratio = image.YCbCrSubsampleRatio422
	case sub440:
		ratio = image.YCbCrSubsampleRatio440
	}
	return &image.YCbCr{Y: p.y, Cb: p.cb, Cr: p.cr, YStride: p.ys, CStride: p.cs, SubsampleRatio: ratio, Rect: r}
}
