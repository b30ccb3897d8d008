package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

const tb = "boundarydonotcross"

// testPart is one part of a test stream, with the timestamp it carries.
type testPart struct {
	body []byte
	ts   time.Time
}

func testParts(n int) []testPart {
	jpegs := testJPEGs()
	base := time.Unix(1_700_000_000, 123456_000)
	var ps []testPart
	for i := range n {
		ps = append(ps, testPart{jpegs[i%len(jpegs)], base.Add(time.Duration(i) * 33333 * time.Microsecond)})
	}
	return ps
}

// encodeParts builds a byte-exact stream body; edit may rewrite part i.
func encodeParts(ps []testPart, end bool, edit func(i int, part []byte) []byte) []byte {
	out := []byte("--" + tb + "\r\n")
	for i, p := range ps {
		part := appendPart(nil, tb, p.body, p.ts)
		if end && i == len(ps)-1 {
			part = append(part[:len(part)-2], "--"...)
		}
		if edit != nil {
			part = edit(i, part)
		}
		out = append(out, part...)
	}
	return out
}

// chunkReader hands out its data a few bytes per Read, cycling through
// sizes, so every token of the stream arrives split in every way.
type chunkReader struct {
	data  []byte
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), c.sizes[c.i%len(c.sizes)])
	c.i++
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// splitReader returns data in two reads, split at k.
type splitReader struct {
	data []byte
	k    int
	read bool
}

func (s *splitReader) Read(p []byte) (int, error) {
	if !s.read {
		s.read = true
		n := copy(p, s.data[:s.k])
		s.data = s.data[n:]
		if n > 0 {
			return n, nil
		}
	}
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}

// result is what parsing a whole stream produced.
type result struct {
	parts  []testPart
	kinds  []errorKind
	end    error
	copied int64
}

func parseAll(t testing.TB, r io.Reader) result {
	t.Helper()
	pr := newPartReader(bufio.NewReaderSize(r, minBufferSize), tb, 1<<20)
	var res result
	for range 10000 {
		p, err := pr.next()
		if err != nil {
			var pe *parseError
			if errors.As(err, &pe) {
				res.kinds = append(res.kinds, pe.kind)
				continue
			}
			res.end, res.copied = err, pr.consumed
			return res
		}
		res.parts = append(res.parts, testPart{bytes.Clone(p.body), time.UnixMicro(p.timestamp)})
		if p.received.IsZero() {
			t.Error("part without receipt time")
		}
	}
	t.Fatal("parser did not finish")
	return res
}

func sameParts(t *testing.T, label string, got, want []testPart) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d parts, want %d", label, len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].body, want[i].body) || !got[i].ts.Equal(want[i].ts) {
			t.Fatalf("%s: part %d differs (got %d bytes at %v, want %d bytes at %v)",
				label, i, len(got[i].body), got[i].ts, len(want[i].body), want[i].ts)
		}
	}
}

func TestParserReadsEveryPart(t *testing.T) {
	want := testParts(7)
	for _, end := range []bool{false, true} {
		data := encodeParts(want, end, nil)
		res := parseAll(t, bytes.NewReader(data))
		sameParts(t, fmt.Sprintf("end=%v", end), res.parts, want)
		if len(res.kinds) != 0 || res.end != io.EOF {
			t.Fatalf("end=%v: errors %v, end %v; want none and io.EOF", end, res.kinds, res.end)
		}
		if res.copied != int64(len(data)) {
			t.Errorf("end=%v: consumed %d bytes of %d", end, res.copied, len(data))
		}
	}
}

func TestParserSplitReads(t *testing.T) {
	want := testParts(5)
	data := encodeParts(want, false, nil)
	for size := 1; size <= 7; size++ {
		res := parseAll(t, &chunkReader{data: data, sizes: []int{size}})
		sameParts(t, fmt.Sprintf("%d-byte reads", size), res.parts, want)
		if len(res.kinds) != 0 {
			t.Fatalf("%d-byte reads: errors %v", size, res.kinds)
		}
	}
	res := parseAll(t, &chunkReader{data: data, sizes: []int{1, 7, 2, 6, 3, 5, 4}})
	sameParts(t, "mixed reads", res.parts, want)

	// Small fake JPEGs keep the stream short enough to split it at every
	// single position, through boundaries, headers and CRLFs alike.
	small := []testPart{
		{[]byte("\xff\xd8\r\n--" + tb + "\r\n\xff\xd9"), time.UnixMicro(1_000_000_000_000_001)},
		{[]byte("\xff\xd8-\r\xff\xd9"), time.UnixMicro(1_000_000_000_000_002)},
		{[]byte("\xff\xd8\xff\xd9"), time.UnixMicro(1_000_000_000_500_000)},
	}
	data = encodeParts(small, true, nil)
	for k := 0; k <= len(data); k++ {
		res := parseAll(t, &splitReader{data: data, k: k})
		sameParts(t, fmt.Sprintf("split at %d", k), res.parts, small)
		if len(res.kinds) != 0 || res.end != io.EOF {
			t.Fatalf("split at %d: errors %v, end %v", k, res.kinds, res.end)
		}
	}
}

func TestParserDetectsFramingErrors(t *testing.T) {
	ps := testParts(4)
	good := func(idx ...int) []testPart {
		var out []testPart
		for _, i := range idx {
			out = append(out, ps[i])
		}
		return out
	}
	jpegEnd := func(part []byte) int { return bytes.LastIndex(part, []byte("\r\n--"+tb)) }
	replace := func(old, new string) func([]byte) []byte {
		return func(p []byte) []byte { return bytes.Replace(p, []byte(old), []byte(new), 1) }
	}
	cases := []struct {
		name     string
		edit     func([]byte) []byte // applied to part 1
		truncate int                 // cut the stream this many bytes after part 0 ends
		wantKind errorKind
		wantGood []testPart
	}{
		{name: "missing CRLF after JPEG", wantKind: errNoCRLF, wantGood: good(0, 2, 3),
			edit: func(p []byte) []byte { i := jpegEnd(p); return append(p[:i:i], p[i+2:]...) }},
		{name: "wrong boundary", wantKind: errBoundary, wantGood: good(0, 3),
			edit: replace("\r\n--"+tb+"\r\n", "\r\n--otherboundary\r\n")},
		{name: "boundary not followed by CRLF", wantKind: errTrailer, wantGood: good(0, 3),
			edit: func(p []byte) []byte { return append(p[:len(p)-2:len(p)-2], "xx"...) }},
		{name: "Content-Length not a number", wantKind: errContentLength, wantGood: good(0, 2, 3),
			edit: replace("Content-Length: ", "Content-Length: 12x")},
		{name: "Content-Length one too many", wantKind: errNoEOI, wantGood: good(0, 2, 3),
			edit: replace(fmt.Sprintf("Content-Length: %d", len(ps[1].body)), fmt.Sprintf("Content-Length: %d", len(ps[1].body)+1))},
		{name: "Content-Length one too few", wantKind: errNoEOI, wantGood: good(0, 2, 3),
			edit: replace(fmt.Sprintf("Content-Length: %d", len(ps[1].body)), fmt.Sprintf("Content-Length: %d", len(ps[1].body)-1))},
		{name: "Content-Length above limit", wantKind: errTooLarge, wantGood: good(0, 2, 3),
			edit: replace(fmt.Sprintf("Content-Length: %d", len(ps[1].body)), "Content-Length: 999999999")},
		{name: "truncated body", truncate: 100, wantKind: errTruncated, wantGood: good(0)},
		{name: "truncated headers", truncate: 20, wantKind: errTruncated, wantGood: good(0)},
		{name: "non-JPEG body", wantKind: errNotJPEG, wantGood: good(0, 2, 3),
			edit: replace("\xff\xd8", "GI")},
		{name: "JPEG without EOI", wantKind: errNoEOI, wantGood: good(0, 2, 3),
			edit: func(p []byte) []byte { i := jpegEnd(p); p[i-1] = 0; return p }},
		{name: "missing Content-Length", wantKind: errMissingHeader, wantGood: good(0, 2, 3),
			edit: replace("Content-Length", "Content-Lengthy")},
		{name: "missing X-Timestamp", wantKind: errMissingHeader, wantGood: good(0, 2, 3),
			edit: replace("X-Timestamp", "X-Timestampy")},
		{name: "bad X-Timestamp", wantKind: errTimestamp, wantGood: good(0, 2, 3),
			edit: replace("X-Timestamp: 1700000000.156789", "X-Timestamp: 1700000000.15678")},
		{name: "wrong Content-Type", wantKind: errContentType, wantGood: good(0, 2, 3),
			edit: replace("image/jpeg", "text/plain")},
		{name: "duplicate header", wantKind: errHeader, wantGood: good(0, 2, 3),
			edit: replace("Content-Type: image/jpeg\r\n", "Content-Type: image/jpeg\r\ncontent-type: image/jpeg\r\n")},
		{name: "header line ends in bare LF", wantKind: errHeader, wantGood: good(0, 2, 3),
			edit: replace("image/jpeg\r\n", "image/jpeg\n")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := encodeParts(ps, true, func(i int, p []byte) []byte {
				if i == 1 && tc.edit != nil {
					return tc.edit(p)
				}
				return p
			})
			if tc.truncate > 0 {
				data = data[:len(encodeParts(ps[:1], false, nil))+tc.truncate]
			}
			for _, sizes := range [][]int{{1 << 20}, {1}, {3, 7, 1, 5}} {
				res := parseAll(t, &chunkReader{data: bytes.Clone(data), sizes: sizes})
				if len(res.kinds) != 1 || res.kinds[0] != tc.wantKind {
					t.Fatalf("reads of %v bytes: errors %v, want exactly [%v]", sizes, res.kinds, tc.wantKind)
				}
				sameParts(t, fmt.Sprint("reads of ", sizes), res.parts, tc.wantGood)
				if res.end != io.EOF {
					t.Fatalf("reads of %v bytes: ended with %v, want io.EOF", sizes, res.end)
				}
			}
		})
	}
}

func TestParserRejectsStreamWithoutOpeningBoundary(t *testing.T) {
	ps := testParts(3)
	data := encodeParts(ps, true, nil)[len("--"+tb+"\r\n"):]
	res := parseAll(t, bytes.NewReader(data))
	if len(res.kinds) != 1 || res.kinds[0] != errStart {
		t.Fatalf("errors %v, want [start]", res.kinds)
	}
	sameParts(t, "after resync", res.parts, ps[1:])
}

func TestParserErrorMessagesNameTheProblem(t *testing.T) {
	ps := testParts(2)
	data := encodeParts(ps, true, func(i int, p []byte) []byte {
		return bytes.Replace(p, []byte("\r\n--"+tb+"\r\n"), []byte("\r\n--wrong\r\n"), 1)
	})
	pr := newPartReader(bufio.NewReaderSize(bytes.NewReader(data), minBufferSize), tb, 1<<20)
	_, err := pr.next()
	if err == nil || !isParseError(err) || !strings.Contains(err.Error(), "wrong boundary") || !strings.Contains(err.Error(), "--wrong") {
		t.Fatalf("error %v, want a parse error naming the wrong boundary", err)
	}
}

// A connection error is not a framing error: the client must stop, not
// resync.
func TestParserPassesConnectionErrorsThrough(t *testing.T) {
	boom := errors.New("connection reset")
	data := encodeParts(testParts(1), false, nil)
	r := io.MultiReader(bytes.NewReader(data[:len(data)/2]), &errReader{boom})
	pr := newPartReader(bufio.NewReaderSize(r, minBufferSize), tb, 1<<20)
	if _, err := pr.next(); !errors.Is(err, boom) || isParseError(err) {
		t.Fatalf("got %v, want the connection error", err)
	}
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

// cycleReader repeats a stream's parts forever for the benchmark.
type cycleReader struct {
	data []byte
	off  int
}

func (c *cycleReader) Read(p []byte) (int, error) {
	n := copy(p, c.data[c.off:])
	c.off += n
	if c.off == len(c.data) {
		c.off = 0
	}
	return n, nil
}

func BenchmarkParser(b *testing.B) {
	body := make([]byte, 150_000) // a typical 1080p MJPEG frame
	body[0], body[1], body[len(body)-2], body[len(body)-1] = 0xFF, 0xD8, 0xFF, 0xD9
	part := appendPart(nil, tb, body, time.Now())
	head := []byte("--" + tb + "\r\n")
	pr := newPartReader(bufio.NewReaderSize(io.MultiReader(bytes.NewReader(head), &cycleReader{data: part}), 64<<10), tb, 1<<20)
	b.SetBytes(int64(len(part)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pr.next(); err != nil {
			b.Fatal(err)
		}
	}
}
