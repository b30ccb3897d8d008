//go:build !turbojpeg

package jpeg

import (
	"bytes"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
)

// encode is the pure-Go encoder. image/jpeg has fast paths for the image
// types Encode documents and always writes 4:2:0 for colour images.
func encode(img image.Image, quality int) ([]byte, error) {
	var buf bytes.Buffer
	// One byte per 16 pixels is about what a camera scene needs at quality
	// 80, so most frames need no regrowth and flat ones little slack.
	b := img.Bounds()
	buf.Grow(b.Dx()*b.Dy()/16 + 1024)
	if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("encode JPEG: %w", err)
	}
	return buf.Bytes(), nil
}
