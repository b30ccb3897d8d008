package filereplay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"usbstream/internal/jpeg/jpegtest"

	"usbstream/internal/jpeg"
)

// splitAll splits b completely. For every frame error it records nil in
// frames and the error in errs, so both line up with the input's frames.
func splitAll(t testing.TB, b []byte, max int) (frames [][]byte, errs []error) {
	t.Helper()
	return drain(t, newSplitter(bytes.NewReader(b), max), len(b))
}

// drain reads s to the end of its n bytes of data.
func drain(t testing.TB, s *splitter, n int) (frames [][]byte, errs []error) {
	t.Helper()
	for range n + 1 {
		f, err := s.next(context.Background())
		if errors.Is(err, io.EOF) {
			return frames, errs
		}
		var fe *frameError
		var re *restError
		if errors.As(err, &re) {
			return append(frames, nil), append(errs, err)
		}
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("unexpected error kind %T: %v", err, err)
		}
		frames, errs = append(frames, f), append(errs, err)
	}
	t.Fatal("the splitter does not make progress")
	return nil, nil
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// scanFrame is a minimal frame whose entropy-coded data holds the escapes a
// splitter must step over: stuffed FF 00, restart markers, fill bytes.
func scanFrame(data []byte) []byte {
	return cat([]byte{0xFF, 0xD8}, []byte{0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0}, data, []byte{0xFF, 0xD9})
}

func TestSplitter(t *testing.T) {
	a, b, c := testJPEG(t, 64, 48, 1), testJPEG(t, 72, 48, 2), testJPEG(t, 80, 48, 3)
	thumb := jpegtest.WithExifThumbnail(b, a)
	escapes := scanFrame([]byte{1, 2, 0xFF, 0x00, 3, 0xFF, 0xD0, 4, 0xFF, 0xD7, 5, 0xFF, 0x00})
	withFill := scanFrame([]byte{1, 0xFF, 0xFF, 0xFF, 0xD3, 2})
	const (
		ok        = ""
		truncated = "truncated"
		malformed = "malformed"
	)
	for _, tc := range []struct {
		name   string
		stream []byte
		want   [][]byte // nil entry: a dropped frame
		errs   []string
	}{
		{"concatenated", cat(a, b, c), [][]byte{a, b, c}, []string{ok, ok, ok}},
		{"exif thumbnail", cat(a, thumb, c), [][]byte{a, thumb, c}, []string{ok, ok, ok}},
		{"garbage around frames", cat([]byte("xx\xff\xd8yy\xff"), a, []byte("\xff\xd8\x00\xff\xd9zz"), b, make([]byte, 64)), [][]byte{a, b}, []string{ok, ok}},
		{"escapes in scan data", escapes, [][]byte{escapes}, []string{ok}},
		{"fill before restart marker", withFill, [][]byte{scanFrame([]byte{1, 0xFF, 0xD3, 2})}, []string{ok}},
		{"fill before segments", cat([]byte{0xFF, 0xD8, 0xFF, 0xFF}, a[3:]), [][]byte{a}, []string{ok}},
		{"truncated at end", cat(a, b[:len(b)/2]), [][]byte{a, nil}, []string{ok, "file ends at byte"}},
		{"truncated in a segment length", cat(a, b[:5]), [][]byte{a, nil}, []string{ok, truncated}},
		{"new frame before EOI", cat(a[:len(a)/2], b, c), [][]byte{nil, b, c}, []string{"a new frame starts at byte " + strconv.Itoa(len(a)/2), ok, ok}},
		{"new frame after headers", cat(a[:bytes.Index(a, []byte{0xFF, 0xC0})], b), [][]byte{nil, b}, []string{truncated, ok}},
		{"junk between segments", cat([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 1, 2, 'J'}, b), [][]byte{nil, b}, []string{"expected a marker at byte 8, found 0x4A", ok}},
		{"stuffed byte outside scan", cat([]byte{0xFF, 0xD8, 0xFF, 0x00}, b), [][]byte{nil, b}, []string{malformed, ok}},
		{"bad segment length", cat([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 1}, b), [][]byte{nil, b}, []string{"invalid length 1", ok}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frames, errs := splitAll(t, tc.stream, MaxFrameSize)
			if len(frames) != len(tc.want) {
				t.Fatalf("got %d frames (errors %v), want %d", len(frames), errs, len(tc.want))
			}
			for i := range frames {
				if !bytes.Equal(frames[i], tc.want[i]) {
					t.Fatalf("frame %d: got %d bytes, want %d", i, len(frames[i]), len(tc.want[i]))
				}
				switch {
				case tc.errs[i] == ok && errs[i] != nil:
					t.Fatalf("frame %d: %v", i, errs[i])
				case tc.errs[i] != ok && (errs[i] == nil || !strings.Contains(errs[i].Error(), tc.errs[i])):
					t.Fatalf("frame %d: error %v, want one containing %q", i, errs[i], tc.errs[i])
				}
			}
		})
	}
}

func TestSplitterSizeLimit(t *testing.T) {
	small := testJPEG(t, 16, 16, 1)
	// Noise compresses badly, so this frame has a long scan.
	noise := image.NewGray(image.Rect(0, 0, 128, 128))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise.Pix {
		noise.Pix[i] = byte(rng.UintN(256))
	}
	bigScan, err := jpeg.Encode(noise, 95)
	if err != nil {
		t.Fatal(err)
	}
	// And this one is big in its headers: comment segments.
	com := bytes.Repeat(cat([]byte{0xFF, 0xFE, 0xFF, 0xFF}, make([]byte, 65533)), 3)
	bigHeaders := cat(small[:2], com, small[2:])
	// A thumbnail inside the skipped frame must not surface as a frame.
	bigThumb := jpegtest.WithExifThumbnail(bigScan, small)

	limit := len(small) + 1000
	if len(bigScan) <= limit {
		t.Fatalf("test frame of %d bytes is not over the limit %d", len(bigScan), limit)
	}
	frames, errs := splitAll(t, cat(small, bigScan, small, bigHeaders, small, bigThumb, small), limit)
	if len(frames) != 7 {
		t.Fatalf("got %d frames, want 7 (errors %v)", len(frames), errs)
	}
	for i, f := range frames {
		if i%2 == 0 {
			if errs[i] != nil || !bytes.Equal(f, small) {
				t.Fatalf("frame %d: %v", i, errs[i])
			}
			continue
		}
		if errs[i] == nil || !strings.Contains(errs[i].Error(), "over the limit of "+strconv.Itoa(limit)+" bytes") {
			t.Fatalf("frame %d: error %v, want it skipped as too large", i, errs[i])
		}
	}
}

// TestSplitterCancel: skipping an endless run of garbage still notices a
// cancelled context.
func TestSplitterCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	endless := io.MultiReader(bytes.NewReader([]byte{0xFF, 0xD8, 0xFF, 0xDA, 0, 2}), repeatReader('x'))
	for _, r := range []io.Reader{repeatReader('x'), endless} {
		s := newSplitter(r, MaxFrameSize)
		if _, err := s.next(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("next = %v, want context.Canceled", err)
		}
	}
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// TestSplitterReadError: a failing disk is the file's problem, not a bad
// frame, so it is not a *frameError.
func TestSplitterReadError(t *testing.T) {
	a := testJPEG(t, 64, 48, 1)
	broken := errors.New("input/output error")
	s := newSplitter(io.MultiReader(bytes.NewReader(a[:100]), errReader{broken}), MaxFrameSize)
	_, err := s.next(context.Background())
	var fe *frameError
	if !errors.Is(err, broken) || errors.As(err, &fe) {
		t.Fatalf("next = %v, want the read error itself", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func FuzzSplitter(f *testing.F) {
	a, b := testJPEG(f, 16, 16, 1), testJPEG(f, 24, 16, 2)
	f.Add(cat(a, b))
	f.Add(cat(jpegtest.WithExifThumbnail(a, b), []byte("junk"), b[:50]))
	f.Add(scanFrame([]byte{1, 0xFF, 0x00, 0xFF, 0xD0, 0xFF, 0xFF, 0xD1}))
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 4096
		r := bytes.NewReader(in)
		s := newSplitter(r, limit)
		frames, errs := drain(t, s, len(in))
		// A second pass over the same data, which skips the oversized
		// frames it learnt about, must give exactly the same result.
		r.Seek(0, io.SeekStart)
		s.rewind(r)
		again, errsAgain := drain(t, s, len(in))
		if len(again) != len(frames) {
			t.Fatalf("second pass: %d results, first %d", len(again), len(frames))
		}
		for i := range frames {
			if !bytes.Equal(again[i], frames[i]) || fmt.Sprint(errsAgain[i]) != fmt.Sprint(errs[i]) {
				t.Fatalf("result %d differs in the second pass: %d bytes %v, first %d bytes %v",
					i, len(again[i]), errsAgain[i], len(frames[i]), errs[i])
			}
		}
		total := 0
		for _, fr := range frames {
			if fr == nil {
				continue
			}
			total += len(fr)
			if len(fr) > limit || !bytes.HasPrefix(fr, []byte{0xFF, 0xD8}) || !bytes.HasSuffix(fr, []byte{0xFF, 0xD9}) {
				t.Fatalf("bad frame of %d bytes: % x ... % x", len(fr), fr[:min(4, len(fr))], fr[max(0, len(fr)-4):])
			}
			// Dimensions rejects a height left to a DNL marker (0), which
			// image/jpeg reports as is; any other header both must read.
			if cfg, err := stdjpeg.DecodeConfig(bytes.NewReader(fr)); err == nil && cfg.Width > 0 && cfg.Height > 0 {
				if w, h, err := jpeg.Dimensions(fr); err != nil || w != cfg.Width || h != cfg.Height {
					t.Fatalf("image/jpeg reads %dx%d, Dimensions %dx%d, %v", cfg.Width, cfg.Height, w, h, err)
				}
			}
		}
		if total > len(in) {
			t.Fatalf("frames hold %d bytes, more than the %d input", total, len(in))
		}
	})
}

// countingReader counts the bytes read through it; it seeks like the file
// under it.
type countingReader struct {
	*bytes.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	c.n += n
	return n, err
}

// An oversized frame is walked once; later passes over the same data seek
// past it, and a reset (new data) forgets it.
func TestSplitterSkipsKnownOversizedFrames(t *testing.T) {
	small := testJPEG(t, 16, 16, 1)
	com := bytes.Repeat(cat([]byte{0xFF, 0xFE, 0xFF, 0xFF}, make([]byte, 65533)), 16) // 1 MiB of comments
	big := cat(small[:2], com, small[2:])
	data := cat(small, big, small, big, small)
	limit := 64 << 10
	r := &countingReader{Reader: bytes.NewReader(data)}
	s := newSplitter(r, limit)
	pass := func() (frames, oversized int) {
		t.Helper()
		for range 10 {
			f, err := s.next(context.Background())
			var oe *oversizeError
			switch {
			case errors.Is(err, io.EOF):
				return
			case errors.As(err, &oe):
				if oe.n != int64(len(big)) { // big has no fill bytes
					t.Fatalf("oversized frame of %d bytes reported as %d", len(big), oe.n)
				}
				oversized++
			case err != nil:
				t.Fatal(err)
			case !bytes.Equal(f, small):
				t.Fatalf("frame of %d bytes is not the small frame", len(f))
			default:
				frames++
			}
		}
		t.Fatal("no end of data")
		return
	}
	if f, o := pass(); f != 3 || o != 2 || r.n != len(data) {
		t.Fatalf("first pass: %d frames, %d oversized, %d bytes read; want 3, 2 and all %d", f, o, r.n, len(data))
	}
	for range 2 {
		r.n = 0
		r.Seek(0, io.SeekStart)
		s.rewind(r)
		if f, o := pass(); f != 3 || o != 2 || r.n > len(data)-len(big) {
			t.Fatalf("next pass: %d frames, %d oversized, %d bytes read; want 3, 2 and the big frames skipped", f, o, r.n)
		}
	}
	r.n = 0
	r.Seek(0, io.SeekStart)
	s.reset(r)
	if f, o := pass(); f != 3 || o != 2 || r.n != len(data) {
		t.Fatalf("after reset: %d frames, %d oversized, %d bytes read; want everything read again", f, o, r.n)
	}
}
