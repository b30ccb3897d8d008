package jpeg

import (
	"errors"
	"fmt"
	"image"
)

// maxEncodeSide is the largest width or height a JPEG header can express.
const maxEncodeSide = 1<<16 - 1

// Encode encodes img as a baseline JPEG at quality 1..100. *image.YCbCr,
// *image.Gray and *image.RGBA are encoded without a per-pixel colour
// conversion through image.Image; sources should render into a 4:2:0
// *image.YCbCr, which is what the output uses anyway (image/jpeg writes
// 4:2:0 for every colour image; libjpeg-turbo keeps a YCbCr image's
// subsampling and writes 4:2:0 for the others).
//
// The returned slice is newly allocated and belongs to the caller, so it can
// be handed to the hub while img is reused for the next frame.
func Encode(img image.Image, quality int) ([]byte, error) {
	if err := checkEncode(img, quality); err != nil {
		return nil, err
	}
	// The implementation is chosen by build tags (encode_go.go, or
	// encode_turbo.go with -tags turbojpeg); it may assume the checks above.
	return encode(img, quality)
}

// EncodeTransformed encodes img turned and flipped by t, the way camera
// frames are: a generated picture (the test pattern) then shows -rotate and
// -flip as a camera would. img must be a *image.YCbCr or *image.Gray
// unless t is the identity.
func EncodeTransformed(img image.Image, quality int, t Transform) ([]byte, error) {
	o, err := t.orient()
	if err != nil {
		return nil, err
	}
	if o.identity() {
		return Encode(img, quality)
	}
	if err := checkEncode(img, quality); err != nil {
		return nil, err
	}
	p, ok := planesOf(img)
	if !ok {
		return nil, fmt.Errorf("cannot rotate or flip a %T picture: only YCbCr and Gray ones", img)
	}
	q, buf := p.transformed(o)
	defer putScratch(buf)
	return encodePlanes(&q, quality)
}

func checkEncode(img image.Image, quality int) error {
	if img == nil {
		return errors.New("cannot encode a nil image as JPEG")
	}
	b := img.Bounds()
	if b.Empty() {
		return fmt.Errorf("cannot encode an empty %dx%d image as JPEG", b.Dx(), b.Dy())
	}
	if b.Dx() > maxEncodeSide || b.Dy() > maxEncodeSide {
		return fmt.Errorf("cannot encode a %dx%d image as JPEG: the limit is %d pixels per side",
			b.Dx(), b.Dy(), maxEncodeSide)
	}
	if quality < 1 || quality > 100 {
		return fmt.Errorf("JPEG quality %d is out of range 1..100", quality)
	}
	return nil
}
