package stream

import (
	"strconv"

	"usbstream/internal/frame"
)

// Boundary separates the parts of /stream. The same string as ustreamer and
// mjpg-streamer, so tools written against them find what they expect.
const Boundary = "boundarydonotcross"

// ContentType is the Content-Type of a /stream response.
const ContentType = "multipart/x-mixed-replace;boundary=" + Boundary

// partTrailer ends every JPEG: the boundary is written right after the image
// rather than before the next one, because Chrome renders a part only once
// the next boundary arrives; writing it early removes a frame of lag.
var partTrailer = []byte("\r\n--" + Boundary + "\r\n")

// firstBoundary opens the body: ffmpeg's mpjpeg demuxer needs a boundary line
// before the first part.
var firstBoundary = []byte("--" + Boundary + "\r\n")

// AppendPartHeader appends the headers of one part to dst. With first set it
// also opens the body with the boundary line that precedes the first part.
// Content-Length is always sent: Firefox needs it, and ffmpeg reads faster
// with it. A placeholder ("camera offline") part says so in PlaceholderHeader,
// so tools can tell it from a camera picture without looking at it.
func AppendPartHeader(dst []byte, f *frame.Frame, first bool) []byte {
	if first {
		dst = append(dst, firstBoundary...)
	}
	dst = append(dst, "Content-Type: image/jpeg\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(f.JPEG)), 10)
	dst = append(dst, "\r\nX-Timestamp: "...)
	dst = AppendTimestamp(dst, f)
	if f.Placeholder {
		dst = append(dst, "\r\n"+PlaceholderHeader+": 1"...)
	}
	return append(dst, "\r\n\r\n"...)
}

// PlaceholderHeader marks a stream part or snapshot that is a placeholder.
const PlaceholderHeader = "X-Placeholder"

// AppendTimestamp appends the capture time as seconds.microseconds, the
// format of ustreamer's and mjpg-streamer's X-Timestamp.
func AppendTimestamp(dst []byte, f *frame.Frame) []byte {
	us := f.Captured.UnixMicro()
	dst = strconv.AppendInt(dst, us/1e6, 10)
	dst = append(dst, '.')
	frac := us % 1e6
	for div := int64(1e5); div > 0; div /= 10 {
		dst = append(dst, byte('0'+frac/div%10))
	}
	return dst
}
