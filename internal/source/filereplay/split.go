package filereplay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Marker codes the splitter needs (ITU T.81, table B.1).
const (
	markerTEM  = 0x01
	markerRST0 = 0xD0
	markerRST7 = 0xD7
	markerSOI  = 0xD8
	markerEOI  = 0xD9
	markerSOS  = 0xDA
)

// frameError is a problem with one frame in the stream. Reading can go on
// after it: the splitter resynchronises on the next start-of-image marker.
type frameError struct {
	offset int64 // where the frame starts in the file
	err    error
}

func (e *frameError) Error() string {
	return fmt.Sprintf("frame at byte %d: %v", e.offset, e.err)
}

func (e *frameError) Unwrap() error { return e.err }

// splitter cuts a byte stream into JPEG frames: one JPEG file, an MJPEG
// stream (concatenated JPEGs, as "ffmpeg -f mjpeg" writes) or a raw
// multipart capture (the part headers between frames are skipped like any
// other bytes outside a frame).
//
// It walks the marker segments instead of searching for FF D8 / FF D9,
// because an EXIF thumbnail in APP1 is a whole JPEG with both markers.
// Entropy-coded data cannot contain a marker (FF is followed by 00 or a
// restart marker there), so after SOS the next real marker is found by
// scanning for FF. Frames are returned byte for byte, except that fill
// bytes (extra FFs before a marker) are dropped.
type splitter struct {
	r        *bufio.Reader
	src      io.Reader // under r, for seeking past a known oversized frame
	max      int       // largest frame returned; larger ones are skipped
	off      int64     // bytes consumed so far
	checked  int64     // off at the last context check
	hint     int       // size of the last frame, to allocate the next in one go
	startSOI bool      // a frame's SOI has been consumed already (see frame)
	// good is the end of the last well-formed frame (returned or
	// oversized), or the start of the data. More than gap bytes after it
	// without one, or a frame walked past walk, and the rest of the data
	// is given up (see restError). Neither follows max, which tests set
	// low to make oversized frames cheaply.
	good      int64
	gap, walk int
	// oversized maps the offset of each frame found over max to where it
	// ends, so that later passes over the same data skip it without
	// reading it again.
	oversized map[int64]knownOversized
}

// knownOversized is a frame an earlier pass found over the limit.
type knownOversized struct {
	end  int64 // offset just past its EOI
	size int64 // its size as reported, without fill bytes
}

// maxOversized bounds what the splitter remembers about oversized frames;
// each is over max bytes, so only a file of many gigabytes has more.
const maxOversized = 1024

func newSplitter(r io.Reader, max int) *splitter {
	return &splitter{r: bufio.NewReaderSize(r, 64<<10), src: r, max: max, gap: maxGap, walk: maxWalk}
}

// reset starts over on new data (the next file, or a file that changed).
func (s *splitter) reset(r io.Reader) {
	s.rewind(r)
	s.oversized = nil
}

// rewind starts over on the same data, from its start.
func (s *splitter) rewind(r io.Reader) {
	s.r.Reset(r)
	s.src = r
	s.off, s.checked, s.startSOI, s.good = 0, 0, false, 0
}

// oversizeError is a frame over the limit, which was walked to its end
// without being kept.
type oversizeError struct{ n, max int64 }

func (e *oversizeError) Error() string {
	return fmt.Sprintf("JPEG frame of %d bytes is over the limit of %d bytes; skipped", e.n, e.max)
}

// skipKnown moves past a frame an earlier pass found oversized: by seeking
// when the data is a file, by discarding otherwise.
func (s *splitter) skipKnown(start int64, k knownOversized) error {
	end := k.end
	if sk, ok := s.src.(io.Seeker); ok {
		if _, err := sk.Seek(end, io.SeekStart); err != nil {
			return readError{err}
		}
		s.r.Reset(s.src)
		s.off, s.checked, s.startSOI = end, end, false
		s.good = end
	} else {
		n, err := s.r.Discard(int(end - s.off))
		s.off += int64(n)
		if err != nil {
			return ioErr(err)
		}
		s.good = end
	}
	return &frameError{offset: start, err: &oversizeError{n: k.size, max: int64(s.max)}}
}

// next returns the next complete frame, from SOI to EOI, in a newly
// allocated slice. It returns io.EOF at the end of the stream, a
// *frameError for a frame that cannot be used (reading may continue), and
// any other error from the reader or ctx.
func (s *splitter) next(ctx context.Context) ([]byte, error) {
	start, err := s.sync(ctx)
	if err != nil {
		return nil, err
	}
	if k, ok := s.oversized[start]; ok {
		return nil, s.skipKnown(start, k)
	}
	b, err := s.frame(ctx)
	var oe *oversizeError
	var walked *restError
	switch {
	case err == nil:
		s.hint, s.good = len(b), s.off
		if cap(b)-len(b) > 1<<20 {
			// Sized for a much larger previous frame: the hub may hold
			// this one for a while, so do not keep the slack alive.
			b = slices.Clone(b)
		}
		return b, nil
	case ctx.Err() != nil && errors.Is(err, ctx.Err()), isReadError(err):
		return nil, err
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		err = fmt.Errorf("JPEG frame truncated: the file ends at byte %d before its end-of-image marker (FF D9)", s.off)
	case errors.As(err, &walked):
		walked.offset = start
		return nil, err
	case errors.As(err, &oe):
		s.good = s.off
		if s.oversized == nil {
			s.oversized = make(map[int64]knownOversized)
		}
		if len(s.oversized) < maxOversized {
			s.oversized[start] = knownOversized{end: s.off, size: oe.n}
		}
	}
	return nil, &frameError{offset: start, err: err}
}

// restError ends the data early: from offset on, it would take reading
// more than a frame's worth to find the next frame, or the end of one, so
// the rest is given up. Without this a 1 GB file of zeros, or a "frame"
// whose scan never ends, would be read whole before the next frame, on
// every pass.
type restError struct {
	offset int64
	err    error
}

func (e *restError) Error() string {
	return fmt.Sprintf("%v; the rest of the data, from byte %d on, is not read", e.err, e.offset)
}

func (e *restError) Unwrap() error { return e.err }

// An oversized frame is walked up to maxWalk to find its end (so later
// passes can seek past it) before the rest of the data is given up: a 50 MB
// JPEG is still skipped and what follows played. More than maxGap bytes
// without a frame start is taken for the end of the frames.
const (
	maxWalk = 4 * MaxFrameSize
	maxGap  = MaxFrameSize
)

// readError marks an error of the underlying reader, as opposed to a
// problem with the data.
type readError struct{ err error }

func (e readError) Error() string { return e.err.Error() }
func (e readError) Unwrap() error { return e.err }

func isReadError(err error) bool {
	var re readError
	return errors.As(err, &re)
}

// ioErr classifies an error from the bufio.Reader: the end of the data is
// passed through, anything else is the file's fault, not the frame's.
func ioErr(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	return readError{err}
}

// poll checks ctx about once per MiB consumed, so that skipping a huge run
// of garbage still ends promptly on cancel without a check per byte.
func (s *splitter) poll(ctx context.Context) error {
	if s.off-s.checked < 1<<20 {
		return nil
	}
	s.checked = s.off
	return ctx.Err()
}

// sync skips to just after the next SOI that is followed by a marker, and
// returns the SOI's offset.
func (s *splitter) sync(ctx context.Context) (int64, error) {
	if s.startSOI {
		s.startSOI = false
		return s.off - 2, nil
	}
	for {
		if err := s.poll(ctx); err != nil {
			return 0, err
		}
		if s.off-s.good > int64(s.gap) {
			// Counted from the last good frame, not from this search: in
			// random bytes FF D8 FF comes up by chance every 16 MiB or so.
			return 0, &restError{offset: s.good, err: fmt.Errorf("no usable JPEG frame in %s from byte %d", sizeText(s.gap), s.good)}
		}
		chunk, err := s.r.ReadSlice(0xFF)
		s.off += int64(len(chunk))
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return 0, ioErr(err)
		}
		p, err := s.r.Peek(1)
		if err != nil {
			return 0, ioErr(err)
		}
		if p[0] != markerSOI {
			continue
		}
		s.r.ReadByte()
		s.off++
		// FF D8 also occurs by chance in garbage; a frame goes on with a marker.
		if p, err := s.r.Peek(1); err != nil {
			return 0, ioErr(err)
		} else if p[0] == 0xFF {
			return s.off - 2, nil
		}
	}
}

// frameBuf collects a frame's bytes until it grows past max; then it only
// counts them, so that an oversized frame is walked to its end without
// holding it in memory.
type frameBuf struct {
	b    []byte
	n    int
	max  int
	over bool
}

func (f *frameBuf) add(p ...byte) {
	f.n += len(p)
	if f.over {
		return
	}
	if f.n > f.max {
		f.over, f.b = true, nil
		return
	}
	f.b = growCapped(f.b, len(p), f.max)
	f.b = append(f.b, p...)
}

// growCapped makes room for n more bytes, doubling the capacity as append
// does but never past limit, so that a frame just under the limit does not
// cost twice the limit.
func growCapped(b []byte, n, limit int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), max(len(b)+n, min(2*cap(b), limit)))
	copy(nb, b)
	return nb
}

// room reports whether n more bytes can be stored, and marks the frame
// oversized when not.
func (f *frameBuf) room(n int) bool {
	if !f.over && f.n+n > f.max {
		f.over, f.b = true, nil
	}
	return !f.over
}

// frame reads the rest of a frame whose SOI has just been consumed.
func (s *splitter) frame(ctx context.Context) ([]byte, error) {
	size := 64 << 10
	if s.hint > 0 {
		size = s.hint + s.hint/8 + 1024
	}
	fb := &frameBuf{b: make([]byte, 0, min(size, s.max)), max: s.max}
	fb.add(0xFF, markerSOI)

	m, err := s.marker()
	for {
		if err != nil {
			return nil, err
		}
		if err := s.poll(ctx); err != nil {
			return nil, err
		}
		if err := s.walkedTooFar(fb); err != nil {
			return nil, err
		}
		switch {
		case m == markerEOI:
			fb.add(0xFF, markerEOI)
			if fb.over {
				return nil, &oversizeError{n: int64(fb.n), max: int64(s.max)}
			}
			return fb.b, nil
		case m == markerSOI:
			// The next frame starts here: this one lost its end.
			s.startSOI = true
			return nil, fmt.Errorf("JPEG frame truncated: a new frame starts at byte %d before its end-of-image marker (FF D9)", s.off-2)
		case m == markerTEM || (m >= markerRST0 && m <= markerRST7):
			fb.add(0xFF, m)
			m, err = s.marker()
			continue
		case m == 0x00:
			return nil, fmt.Errorf("malformed JPEG: stuffed byte (FF 00) outside image data at byte %d", s.off-2)
		}
		if err := s.segment(fb, m); err != nil {
			return nil, err
		}
		if m == markerSOS {
			m, err = s.scan(ctx, fb)
		} else {
			m, err = s.marker()
		}
	}
}

// walkedTooFar gives up a frame walked past s.walk; next fills in the
// frame's offset.
func (s *splitter) walkedTooFar(fb *frameBuf) error {
	if fb.n <= s.walk {
		return nil
	}
	return &restError{err: fmt.Errorf("a JPEG frame runs past %s without its end-of-image marker (FF D9)", sizeText(s.walk))}
}

// sizeText writes a byte count for a message, in MiB when it is whole.
func sizeText(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// marker reads a marker code: FF, any FF fill bytes, then the code.
func (s *splitter) marker() (byte, error) {
	b, err := s.r.ReadByte()
	if err != nil {
		return 0, ioErr(err)
	}
	s.off++
	if b != 0xFF {
		return 0, fmt.Errorf("malformed JPEG: expected a marker at byte %d, found 0x%02X", s.off-1, b)
	}
	for b == 0xFF {
		if b, err = s.r.ReadByte(); err != nil {
			return 0, ioErr(err)
		}
		s.off++
	}
	return b, nil
}

// segment copies a length-prefixed marker segment whose marker code m has
// just been read.
func (s *splitter) segment(fb *frameBuf, m byte) error {
	var l [2]byte
	if _, err := io.ReadFull(s.r, l[:]); err != nil {
		return ioErr(err)
	}
	s.off += 2
	n := int(l[0])<<8 | int(l[1])
	if n < 2 {
		return fmt.Errorf("malformed JPEG: marker FF %02X at byte %d has an invalid length %d", m, s.off-4, n)
	}
	fb.add(0xFF, m, l[0], l[1])
	body := n - 2
	if !fb.room(body) {
		fb.n += body
		d, err := s.r.Discard(body)
		s.off += int64(d)
		return ioErr(err)
	}
	fb.b = growCapped(fb.b, body, fb.max)
	k, err := io.ReadFull(s.r, fb.b[len(fb.b):len(fb.b)+body])
	s.off += int64(k)
	if err != nil {
		return ioErr(err)
	}
	fb.b = fb.b[:len(fb.b)+body]
	fb.n += body
	return nil
}

// scan copies entropy-coded data up to the next marker and returns that
// marker's code (its FF consumed, not yet stored).
func (s *splitter) scan(ctx context.Context, fb *frameBuf) (byte, error) {
	for {
		if err := s.poll(ctx); err != nil {
			return 0, err
		}
		if err := s.walkedTooFar(fb); err != nil {
			return 0, err
		}
		chunk, err := s.r.ReadSlice(0xFF)
		s.off += int64(len(chunk))
		if err == bufio.ErrBufferFull {
			fb.add(chunk...)
			continue
		}
		if err != nil {
			return 0, ioErr(err)
		}
		fb.add(chunk[:len(chunk)-1]...)
		for {
			b, err := s.r.ReadByte()
			if err != nil {
				return 0, ioErr(err)
			}
			s.off++
			if b == 0xFF {
				continue // fill byte before a marker
			}
			if b == 0x00 || (b >= markerRST0 && b <= markerRST7) {
				fb.add(0xFF, b) // stuffed byte or restart marker: still data
				break
			}
			return b, nil
		}
	}
}
