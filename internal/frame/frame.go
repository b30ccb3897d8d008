// Package frame defines the unit that travels from a source to every client:
// one complete JPEG image, shared read-only by all readers.
package frame

import "time"

// Frame is one JPEG image with the time it was captured.
//
// A Frame is immutable once it has been handed to the hub: any number of
// clients may be writing its bytes to their sockets at the same time, so
// neither the producer nor a reader may modify JPEG afterwards.
type Frame struct {
	// JPEG holds a complete JPEG file, from SOI (FF D8) to EOI (FF D9).
	JPEG []byte
	// Seq is assigned by the hub when the frame is published; it increases by
	// one per published frame, so a reader can tell how many it skipped.
	Seq uint64
	// Captured is when the image was taken, in wall-clock time. For a camera
	// it comes from the driver's buffer timestamp, not from when we read it.
	Captured time.Time
	// Width and Height are the image size in pixels.
	Width, Height int
	// Placeholder marks a generated "camera offline" image rather than a
	// captured one; snapshots of it are answered with 503.
	Placeholder bool
}
