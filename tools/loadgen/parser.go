package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// errorKind classifies a framing violation so tests (and the report's
// samples) can tell them apart without matching message text.
type errorKind int

const (
	errStart         errorKind = iota + 1 // body does not open with the boundary line
	errHeader                             // malformed, duplicate or over-long header line
	errMissingHeader                      // Content-Type, Content-Length or X-Timestamp absent
	errContentType                        // part is not image/jpeg
	errContentLength                      // Content-Length not a usable number
	errTooLarge                           // Content-Length above the configured limit
	errTimestamp                          // X-Timestamp not <seconds>.<6 digits>
	errNotJPEG                            // body does not start with FF D8
	errNoEOI                              // body does not end with FF D9
	errNoCRLF                             // JPEG not followed by CRLF
	errBoundary                           // CRLF after the JPEG not followed by --boundary
	errTrailer                            // --boundary followed by neither CRLF nor "--"
	errTruncated                          // stream ended inside a part
)

var kindNames = map[errorKind]string{
	errStart: "start", errHeader: "header", errMissingHeader: "missing-header",
	errContentType: "content-type", errContentLength: "content-length", errTooLarge: "too-large",
	errTimestamp: "timestamp", errNotJPEG: "not-jpeg", errNoEOI: "no-eoi", errNoCRLF: "no-crlf",
	errBoundary: "boundary", errTrailer: "trailer", errTruncated: "truncated",
}

func (k errorKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind%d", int(k))
}

// parseError is a violation of the stream's framing. The reader stays usable
// after one: the next call skips to the next boundary line.
type parseError struct {
	kind errorKind
	msg  string
}

func (e *parseError) Error() string { return e.kind.String() + ": " + e.msg }

func perr(kind errorKind, format string, args ...any) error {
	return &parseError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// isParseError reports whether err is a framing violation rather than the
// connection ending or failing.
func isParseError(err error) bool {
	var pe *parseError
	return errors.As(err, &pe)
}

// part is one parsed image. body is only valid until the next call to next:
// the reader reuses it so that a long run does not allocate per frame.
type part struct {
	body      []byte
	timestamp int64     // X-Timestamp in microseconds since the Unix epoch
	received  time.Time // right after the last body byte arrived
}

const (
	// maxHeaderLines bounds the header loop of one part; real parts have 3.
	maxHeaderLines = 32
	// minBufferSize keeps every header line and the trailer peek inside the
	// bufio buffer, which is what lets parsing avoid copies and allocations.
	minBufferSize = 4096
	// maxBoundaryLen is far above RFC 2046's 70 and far below minBufferSize.
	maxBoundaryLen = 200
)

// partReader parses the body of a multipart/x-mixed-replace MJPEG response
// in the framing usbStream writes: "--B\r\n" before the first part, then per
// part headers, a blank line, Content-Length bytes of JPEG and "\r\n--B\r\n"
// (or "\r\n--B--" at the end).
type partReader struct {
	br      *bufio.Reader
	open    []byte // "--B\r\n"
	trailer []byte // "\r\n--B"
	maxBody int
	body    []byte
	tail    []byte // scratch for skipToBoundary, so resyncing does not allocate

	started  bool
	resync   bool
	done     bool
	consumed int64 // every byte taken from br, for the throughput figure
}

func newPartReader(br *bufio.Reader, boundary string, maxBody int) *partReader {
	return &partReader{
		br:      br,
		open:    []byte("--" + boundary + "\r\n"),
		trailer: []byte("\r\n--" + boundary),
		maxBody: maxBody,
		tail:    make([]byte, 0, 2*(len(boundary)+4)),
	}
}

// next returns the next part. It returns a *parseError for a framing
// violation (call again to continue with the following part), io.EOF when
// the server ended the stream between parts, and any other error as the
// connection's.
func (r *partReader) next() (part, error) {
	if r.done {
		return part{}, io.EOF
	}
	if r.resync {
		if err := r.skipToBoundary(); err != nil {
			return part{}, eofIsEnd(err)
		}
		r.resync, r.started = false, true
	} else if !r.started {
		if err := r.readOpening(); err != nil {
			return part{}, err
		}
		r.started = true
	}
	p, err := r.readPart()
	if err != nil && isParseError(err) {
		r.resync = true
	}
	return p, err
}

func eofIsEnd(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return io.EOF
	}
	return err
}

func (r *partReader) readOpening() error {
	got, err := r.br.Peek(len(r.open))
	if len(got) == 0 && err == io.EOF {
		return io.EOF
	}
	if !bytes.HasPrefix(r.open, got) {
		r.resync = true
		return perr(errStart, "body does not start with the boundary line %q: got %s", r.open, excerpt(got))
	}
	if err != nil {
		if err == io.EOF {
			r.done = true
			return perr(errTruncated, "stream ended inside the first boundary line")
		}
		return err
	}
	r.discard(len(r.open))
	return nil
}

func (r *partReader) discard(n int) {
	d, _ := r.br.Discard(n)
	r.consumed += int64(d)
}

func (r *partReader) readPart() (part, error) {
	var (
		p                         part
		haveType, haveLen, haveTS bool
		length                    int
	)
	for lines := 0; ; lines++ {
		line, err := r.br.ReadSlice('\n')
		r.consumed += int64(len(line))
		if err != nil {
			switch {
			case err == bufio.ErrBufferFull:
				return p, perr(errHeader, "header line longer than %d bytes", r.br.Size())
			case err == io.EOF && lines == 0 && len(line) == 0:
				return p, io.EOF
			case err == io.EOF:
				r.done = true
				return p, perr(errTruncated, "stream ended inside the part headers")
			}
			return p, err
		}
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return p, perr(errHeader, "header line not terminated by CRLF: %s", excerpt(line))
		}
		line = line[:len(line)-2]
		if len(line) == 0 {
			break
		}
		if lines >= maxHeaderLines {
			return p, perr(errHeader, "more than %d header lines in one part", maxHeaderLines)
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return p, perr(errHeader, "header line without a name: %s", excerpt(line))
		}
		// name and value point into br's buffer, which the next ReadSlice
		// may overwrite, so each value is checked here and not kept.
		name, value := line[:colon], trimSpace(line[colon+1:])
		switch {
		case bytes.EqualFold(name, hContentType):
			if haveType {
				return p, perr(errHeader, "duplicate Content-Type header")
			}
			haveType = true
			if err := checkContentType(value); err != nil {
				return p, err
			}
		case bytes.EqualFold(name, hContentLength):
			if haveLen {
				return p, perr(errHeader, "duplicate Content-Length header")
			}
			haveLen = true
			n, ok := parseDecimal(value)
			switch {
			case !ok:
				return p, perr(errContentLength, "Content-Length %s is not a decimal number", excerpt(value))
			case n < 4:
				return p, perr(errContentLength, "Content-Length %d is too small for a JPEG", n)
			case n > int64(r.maxBody):
				return p, perr(errTooLarge, "Content-Length %d is above the limit of %d bytes", n, r.maxBody)
			}
			length = int(n)
		case bytes.EqualFold(name, hTimestamp):
			if haveTS {
				return p, perr(errHeader, "duplicate X-Timestamp header")
			}
			haveTS = true
			ts, ok := parseTimestamp(value)
			if !ok {
				return p, perr(errTimestamp, "X-Timestamp %s is not <unix seconds>.<6-digit microseconds>", excerpt(value))
			}
			p.timestamp = ts
		}
	}
	switch {
	case !haveType:
		return p, perr(errMissingHeader, "part has no Content-Type header")
	case !haveLen:
		return p, perr(errMissingHeader, "part has no Content-Length header")
	case !haveTS:
		return p, perr(errMissingHeader, "part has no X-Timestamp header")
	}

	if cap(r.body) < length {
		r.body = make([]byte, length+length/4)
	}
	p.body = r.body[:length]
	n, err := io.ReadFull(r.br, p.body)
	r.consumed += int64(n)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			r.done = true
			return p, perr(errTruncated, "stream ended inside the JPEG: got %d of %d bytes", n, length)
		}
		return p, err
	}
	p.received = time.Now()
	b := p.body
	if b[0] != 0xFF || b[1] != 0xD8 {
		return p, perr(errNotJPEG, "body does not start with FF D8 but %02X %02X", b[0], b[1])
	}
	if b[length-2] != 0xFF || b[length-1] != 0xD9 {
		return p, perr(errNoEOI, "body of %d bytes does not end with FF D9 but %02X %02X (Content-Length wrong or image cut short?)",
			length, b[length-2], b[length-1])
	}
	return p, r.readTrailer()
}

var (
	hContentType   = []byte("Content-Type")
	hContentLength = []byte("Content-Length")
	hTimestamp     = []byte("X-Timestamp")
	imageJPEG      = []byte("image/jpeg")
)

func checkContentType(value []byte) error {
	mt := value
	if i := bytes.IndexByte(mt, ';'); i >= 0 {
		mt = trimSpace(mt[:i])
	}
	if !bytes.EqualFold(mt, imageJPEG) {
		return perr(errContentType, "part Content-Type is %s, want image/jpeg", excerpt(value))
	}
	return nil
}

// readTrailer checks the bytes after a JPEG. What arrived is judged before
// an early EOF, so a wrong byte is reported as such rather than as a cut.
func (r *partReader) readTrailer() error {
	want := len(r.trailer) + 2
	got, err := r.br.Peek(want)
	n := min(len(got), len(r.trailer))
	switch {
	case n >= 1 && got[0] != '\r', n >= 2 && got[1] != '\n':
		return perr(errNoCRLF, "JPEG not followed by CRLF: got %s", excerpt(got))
	case n > 2 && !bytes.Equal(got[2:n], r.trailer[2:n]):
		return perr(errBoundary, "wrong boundary after the JPEG: want %q, got %s", r.trailer[2:], excerpt(got[2:]))
	case err == io.EOF:
		r.done = true
		return perr(errTruncated, "stream ended in the boundary after the JPEG")
	case err != nil:
		return err
	}
	switch end := got[len(r.trailer):]; {
	case end[0] == '\r' && end[1] == '\n':
	case end[0] == '-' && end[1] == '-':
		r.done = true
	default:
		return perr(errTrailer, "boundary after the JPEG followed by %s, want CRLF or \"--\"", excerpt(end))
	}
	r.discard(want)
	return nil
}

// skipToBoundary consumes input up to and including the next "--B\r\n",
// wherever it is: after an error the position inside the stream is unknown.
func (r *partReader) skipToBoundary() error {
	pat := r.open
	keep := len(pat) - 1
	tail := r.tail[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.consumed += int64(len(chunk))
		if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' && endsWith(tail, chunk, pat) {
			return nil
		}
		if err != nil && err != bufio.ErrBufferFull {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if len(chunk) >= keep {
			tail = append(tail[:0], chunk[len(chunk)-keep:]...)
		} else {
			tail = append(tail, chunk...)
			if len(tail) > keep {
				tail = tail[:copy(tail, tail[len(tail)-keep:])]
			}
		}
	}
}

// endsWith reports whether tail followed by chunk ends with pat.
func endsWith(tail, chunk, pat []byte) bool {
	if len(chunk) >= len(pat) {
		return bytes.HasSuffix(chunk, pat)
	}
	head := len(pat) - len(chunk)
	return bytes.Equal(chunk, pat[head:]) && bytes.HasSuffix(tail, pat[:head])
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseDecimal parses a non-negative decimal of up to 18 digits, which
// cannot overflow int64.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseTimestamp parses "<seconds>.<6 digits>" into microseconds. Exactly six
// digits are required because that is the format usbStream, ustreamer and
// mjpg-streamer share; anything else is a server bug worth reporting.
func parseTimestamp(b []byte) (int64, bool) {
	dot := bytes.IndexByte(b, '.')
	if dot <= 0 || len(b)-dot-1 != 6 || dot > 12 {
		return 0, false
	}
	sec, ok := parseDecimal(b[:dot])
	if !ok {
		return 0, false
	}
	us, ok := parseDecimal(b[dot+1:])
	if !ok {
		return 0, false
	}
	return sec*1e6 + us, true
}

// excerpt quotes at most 40 bytes for an error message.
func excerpt(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q...", b[:40])
	}
	return fmt.Sprintf("%q", b)
}
