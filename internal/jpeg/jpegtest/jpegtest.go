// Package jpegtest builds unusual but valid JPEG files for tests.
package jpegtest

import (
	"bytes"
	"encoding/binary"
)

// WithExifThumbnail returns frame with an APP1 EXIF segment inserted right
// after its SOI, holding thumb (a complete JPEG with its own FF D8 and FF D9)
// as the embedded thumbnail: the layout cameras and phones write, and the
// reason a frame splitter must walk segments instead of searching for FF D9.
func WithExifThumbnail(frame, thumb []byte) []byte {
	var tiff bytes.Buffer
	le := binary.LittleEndian
	tiff.WriteString("II*\x00")
	binary.Write(&tiff, le, uint32(8))  // IFD0 offset
	binary.Write(&tiff, le, uint16(0))  // IFD0: no entries
	binary.Write(&tiff, le, uint32(14)) // IFD1 offset
	binary.Write(&tiff, le, uint16(2))  // IFD1: thumbnail offset and length
	const thumbAt = 14 + 2 + 2*12 + 4
	binary.Write(&tiff, le, []uint16{0x0201, 4})
	binary.Write(&tiff, le, []uint32{1, thumbAt})
	binary.Write(&tiff, le, []uint16{0x0202, 4})
	binary.Write(&tiff, le, []uint32{1, uint32(len(thumb))})
	binary.Write(&tiff, le, uint32(0))
	tiff.Write(thumb)
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	app1 := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(payload)+2))
	out := append([]byte{0xFF, 0xD8}, app1...)
	out = append(out, payload...)
	return append(out, frame[2:]...)
}
