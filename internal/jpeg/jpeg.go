// Package jpeg holds the JPEG helpers shared by every frame source and the
// camera pipeline: encoding, validating a captured frame, reading its size
// without decoding it, and the "camera offline" placeholder.
//
// Camera and file data is untrusted: everything that parses JPEG bytes here
// is bounds-checked and never panics on malformed input (see the fuzz tests).
package jpeg

import (
	"bytes"
	"errors"
	"fmt"
)

// MinFrameSize is the smallest buffer accepted as a JPEG frame. Smaller ones
// are what a UVC camera delivers when a transfer went wrong; ustreamer drops
// them for the same reason (its --min-frame-size default).
const MinFrameSize = 128

// JPEG marker codes (ITU T.81, table B.1) used by the walkers.
const (
	markerSOF0 = 0xC0 // baseline DCT
	markerSOF1 = 0xC1 // extended sequential DCT, Huffman
	markerSOF2 = 0xC2 // progressive DCT, Huffman
	markerDHT  = 0xC4
	markerJPG  = 0xC8
	markerDAC  = 0xCC
	markerRST0 = 0xD0
	markerRST7 = 0xD7
	markerSOI  = 0xD8
	markerEOI  = 0xD9
	markerSOS  = 0xDA
	markerTEM  = 0x01
)

var (
	errNoSOI = errors.New("not a JPEG frame: no start-of-image marker (FF D8)")
	errNoEOI = errors.New("JPEG frame truncated: no end-of-image marker (FF D9)")
)

// Check reports why b is not a usable JPEG frame, or nil when it is. It looks
// only at the frame's ends, which is what a truncated or corrupted USB
// transfer damages; it does not decode the image.
func Check(b []byte) error {
	t := Trim(b)
	if len(t) < MinFrameSize {
		return fmt.Errorf("JPEG frame too small: %d bytes, the minimum is %d", len(t), MinFrameSize)
	}
	if t[0] != 0xFF || t[1] != markerSOI {
		return errNoSOI
	}
	if t[len(t)-2] != 0xFF || t[len(t)-1] != markerEOI {
		return errNoEOI
	}
	return nil
}

// Trim returns b without the 0x00 padding some UVC cameras append after the
// end-of-image marker. b is returned unchanged when the zeros do not follow
// an EOI, so that a truncated frame still fails Check as truncated.
func Trim(b []byte) []byte {
	t := bytes.TrimRight(b, "\x00")
	if len(t) == len(b) || !bytes.HasSuffix(t, []byte{0xFF, markerEOI}) {
		return b
	}
	return t
}

// Dimensions reads the image size from the frame header (SOF0, SOF1 or
// SOF2) without decoding the image. It walks the marker segments from the
// start, so an EXIF thumbnail inside APP1 is skipped rather than mistaken for
// the image.
func Dimensions(b []byte) (width, height int, err error) {
	if len(b) < 2 || b[0] != 0xFF || b[1] != markerSOI {
		return 0, 0, errNoSOI
	}
	i := 2
	for {
		if i >= len(b) {
			return 0, 0, errors.New("JPEG frame ends before its frame header (SOF)")
		}
		if b[i] != 0xFF {
			return 0, 0, fmt.Errorf("malformed JPEG: expected a marker at offset %d, found 0x%02X", i, b[i])
		}
		// Any number of 0xFF fill bytes may precede a marker code.
		for i < len(b) && b[i] == 0xFF {
			i++
		}
		if i >= len(b) {
			return 0, 0, errors.New("JPEG frame ends before its frame header (SOF)")
		}
		m := b[i]
		i++
		switch {
		case m == markerTEM || (m >= markerRST0 && m <= markerRST7):
			continue // standalone markers carry no length
		case m == 0x00:
			return 0, 0, fmt.Errorf("malformed JPEG: stuffed byte (FF 00) outside entropy-coded data at offset %d", i-2)
		case m == markerSOI:
			return 0, 0, fmt.Errorf("malformed JPEG: second start-of-image marker at offset %d", i-2)
		case m == markerEOI:
			return 0, 0, errors.New("JPEG frame has no frame header (SOF) before its end-of-image marker")
		case m == markerSOS:
			return 0, 0, errors.New("JPEG frame has no frame header (SOF) before its image data")
		}
		if i+2 > len(b) {
			return 0, 0, fmt.Errorf("JPEG frame truncated in the length of marker FF %02X at offset %d", m, i-2)
		}
		n := int(b[i])<<8 | int(b[i+1])
		if n < 2 {
			return 0, 0, fmt.Errorf("malformed JPEG: marker FF %02X at offset %d has an invalid length %d", m, i-2, n)
		}
		if i+n > len(b) {
			return 0, 0, fmt.Errorf("JPEG frame truncated: marker segment FF %02X at offset %d runs past the end", m, i-2)
		}
		seg := b[i+2 : i+n]
		switch {
		case m == markerSOF0 || m == markerSOF1 || m == markerSOF2:
			// Precision (1 byte), height (2), width (2), components (1).
			if len(seg) < 6 {
				return 0, 0, fmt.Errorf("malformed JPEG: frame header (SOF%d) is %d bytes, too short", m-markerSOF0, len(seg))
			}
			height = int(seg[1])<<8 | int(seg[2])
			width = int(seg[3])<<8 | int(seg[4])
			if width == 0 || height == 0 {
				// Height 0 means "given later by a DNL marker", which neither
				// browsers nor this program support.
				return 0, 0, fmt.Errorf("JPEG frame header gives no size (%dx%d)", width, height)
			}
			return width, height, nil
		case m >= 0xC3 && m <= 0xCF && m != markerDHT && m != markerJPG && m != markerDAC:
			return 0, 0, fmt.Errorf("unsupported JPEG coding process SOF%d: only baseline, extended and progressive Huffman JPEGs are supported", m-markerSOF0)
		}
		i += n
	}
}
