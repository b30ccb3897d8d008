package filereplay

import (
	"bytes"
	"context"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"usbstream/internal/jpeg/jpegtest"
	"usbstream/internal/source"
	"usbstream/internal/source/sourcetest"
)

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func widths(rec *sourcetest.Recorder) []int {
	var w []int
	for _, f := range rec.Frames() {
		w = append(w, f.Width)
	}
	return w
}

func checkFrames(t *testing.T, rec *sourcetest.Recorder, want ...[]byte) {
	t.Helper()
	for i, f := range rec.Frames() {
		exp := want[i%len(want)]
		if !bytes.Equal(f.JPEG, exp) {
			t.Fatalf("frame %d: %d bytes, want the %d-byte input frame %d", i, len(f.JPEG), len(exp), i%len(want))
		}
		img, err := stdjpeg.Decode(bytes.NewReader(f.JPEG))
		if err != nil {
			t.Fatalf("frame %d does not decode: %v", i, err)
		}
		if img.Bounds().Size() != image.Pt(f.Width, f.Height) {
			t.Fatalf("frame %d is %v, Frame says %dx%d", i, img.Bounds().Size(), f.Width, f.Height)
		}
		if i > 0 && !f.Captured.After(rec.Frames()[i-1].Captured) {
			t.Fatalf("frame %d Captured %v is not after the previous frame's", i, f.Captured)
		}
	}
}

func TestFolder(t *testing.T) {
	dir := t.TempDir()
	a, b, c := testJPEG(t, 64, 48, 1), testJPEG(t, 72, 48, 2), testJPEG(t, 80, 48, 3)
	write(t, filepath.Join(dir, "b.JPG"), b)
	write(t, filepath.Join(dir, "a.jpg"), a)
	write(t, filepath.Join(dir, "c.jpeg"), c)
	// Ignored: other extensions, subfolders, hidden files.
	write(t, filepath.Join(dir, "d.png"), testJPEG(t, 200, 10, 4))
	write(t, filepath.Join(dir, "notes.txt"), []byte("hello"))
	write(t, filepath.Join(dir, "sub", "0.jpg"), testJPEG(t, 300, 10, 5))
	write(t, filepath.Join(dir, "._a.jpg"), []byte("AppleDouble junk"))
	if err := os.Mkdir(filepath.Join(dir, "folder.jpg"), 0o755); err != nil {
		t.Fatal(err)
	}

	s := New(dir, 10)
	if info := s.Info(); info.Kind != "file" || info.Device != dir || info.Format != "JPEG" || info.FPS != 10 || info.Width != 0 {
		t.Fatalf("Info before Run = %+v", info)
	}
	// More frames than files: the folder loops.
	rec := runFrames(t, s, 7)
	if got, want := fmt.Sprint(widths(rec)), "[64 72 80 64 72 80 64]"; got != want {
		t.Fatalf("frame widths %s, want %s (name order, looping)", got, want)
	}
	checkFrames(t, rec, a, b, c)
	if len(rec.Drops()) != 0 {
		t.Fatalf("dropped %v", rec.Drops())
	}
	if info := s.Info(); info.Width != 64 || info.Height != 48 {
		t.Fatalf("Info after Run = %dx%d, want the last frame's 64x48", info.Width, info.Height)
	}
}

func TestFolderChangesBetweenPasses(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "1.jpg"), testJPEG(t, 64, 48, 1))
	write(t, filepath.Join(dir, "2.jpg"), []byte("not a JPEG at all, and long enough to be considered as one"))
	s := New(dir, 10)
	c := useManualClock(s)
	rec := &sourcetest.Recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, rec) }()
	// The first pass was listed before frame 1 was sent; the second is
	// listed after 2.jpg is dropped, on the first tick.
	rec.WaitFrames(t, 1)
	write(t, filepath.Join(dir, "3.jpg"), testJPEG(t, 96, 48, 3))
	for range 3 {
		c.Ticks <- time.Time{}
	}
	rec.WaitFrames(t, 4)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(widths(rec)), "[64 64 96 64]"; got != want {
		t.Fatalf("frame widths %s, want %s: a file added between passes is played", got, want)
	}
	if len(rec.Drops()) == 0 || !strings.Contains(rec.Drops()[0].Error(), "2.jpg") {
		t.Fatalf("dropped %v, want 2.jpg reported", rec.Drops())
	}
}

// mjpeg builds a stream with the cases a real file has: an EXIF thumbnail
// (a JPEG inside APP1), garbage between frames, UVC-style zero padding and a
// truncated last frame.
func mjpeg(t *testing.T) (stream []byte, frames [][]byte) {
	f1 := testJPEG(t, 64, 48, 1)
	f2 := jpegtest.WithExifThumbnail(testJPEG(t, 72, 48, 2), testJPEG(t, 16, 12, 9))
	f3 := testJPEG(t, 80, 48, 3)
	f4 := testJPEG(t, 88, 48, 4)
	garbage := []byte("\x00\x01junk\xff\xff\xff\xd8no marker follows\xff\xd9\xff")
	stream = bytes.Join([][]byte{f1, f2, garbage, f3, make([]byte, 100), f4[:len(f4)/2]}, nil)
	return stream, [][]byte{f1, f2, f3}
}

func TestMJPEGFile(t *testing.T) {
	stream, frames := mjpeg(t)
	path := filepath.Join(t.TempDir(), "capture.mjpeg")
	write(t, path, stream)

	rec := runFrames(t, New(path, 25), 7)
	if got, want := fmt.Sprint(widths(rec)), "[64 72 80 64 72 80 64]"; got != want {
		t.Fatalf("frame widths %s, want %s", got, want)
	}
	checkFrames(t, rec, frames...)
	// The frame with the thumbnail is whole: it still holds the thumbnail.
	if !bytes.Contains(rec.Frames()[1].JPEG[4:], []byte{0xFF, 0xD8, 0xFF}) {
		t.Fatal("the EXIF thumbnail was cut out of its frame")
	}
	// The truncated last frame is dropped once per pass, naming the file.
	if len(rec.Drops()) != 2 {
		t.Fatalf("dropped %d frames (%v), want the truncated one in each of 2 passes", len(rec.Drops()), rec.Drops())
	}
	for _, err := range rec.Drops() {
		if msg := err.Error(); !strings.Contains(msg, "truncated") || !strings.Contains(msg, path) {
			t.Fatalf("drop reason %q does not say truncated and name the file", msg)
		}
	}
}

// TestFramesAreNotShared: each frame is its own slice, so a client still
// sending one is never affected by the next read.
func TestFramesAreNotShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "one.jpg")
	one := testJPEG(t, 64, 48, 1)
	write(t, path, one)
	rec := runFrames(t, New(path, 25), 3)
	checkFrames(t, rec, one)
	for i := 1; i < len(rec.Frames()); i++ {
		if &rec.Frames()[i].JPEG[0] == &rec.Frames()[i-1].JPEG[0] {
			t.Fatalf("frames %d and %d share a buffer", i-1, i)
		}
	}
}

func TestMultipartCapture(t *testing.T) {
	var buf bytes.Buffer
	var frames [][]byte
	for i := range 3 {
		f := testJPEG(t, 64+8*i, 48, uint8(i))
		frames = append(frames, f)
		fmt.Fprintf(&buf, "--boundarydonotcross\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\nX-Timestamp: 12.5\r\n\r\n", len(f))
		buf.Write(f)
		buf.WriteString("\r\n")
	}
	path := filepath.Join(t.TempDir(), "stream.bin")
	write(t, path, buf.Bytes())
	rec := runFrames(t, New(path, 25), 4)
	checkFrames(t, rec, frames...)
	if len(rec.Drops()) != 0 {
		t.Fatalf("dropped %v", rec.Drops())
	}
}

func TestFFmpegMJPEG(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ffmpeg is required in CI")
		}
		t.Skip("ffmpeg not installed")
	}
	path := filepath.Join(t.TempDir(), "ffmpeg.mjpeg")
	out, err := exec.Command(ffmpeg, "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
		"-frames:v", "5", "-f", "mjpeg", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	rec := runFrames(t, New(path, 25), 12)
	if len(rec.Drops()) != 0 {
		t.Fatalf("dropped %v", rec.Drops())
	}
	var total int
	for i, f := range rec.Frames() {
		if f.Width != 160 || f.Height != 120 {
			t.Fatalf("frame %d is %dx%d", i, f.Width, f.Height)
		}
		if _, err := stdjpeg.Decode(bytes.NewReader(f.JPEG)); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if i < 5 {
			total += len(f.JPEG)
		} else if !bytes.Equal(f.JPEG, rec.Frames()[i-5].JPEG) {
			t.Fatalf("frame %d differs from frame %d: the 5-frame file did not loop", i, i-5)
		}
	}
	if fi, _ := os.Stat(path); int64(total) != fi.Size() {
		t.Fatalf("the 5 frames hold %d bytes, the file %d", total, fi.Size())
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	truncated := testJPEG(t, 64, 48, 1)
	truncated = truncated[:len(truncated)-10]
	write(t, filepath.Join(dir, "garbage.bin"), bytes.Repeat([]byte("garbage\xff\xd8"), 1000))
	write(t, filepath.Join(dir, "truncated.jpg"), truncated)
	write(t, filepath.Join(dir, "empty.jpg"), nil)
	write(t, filepath.Join(dir, "bad", "1.jpg"), truncated)
	write(t, filepath.Join(dir, "bad", "2.jpeg"), []byte("text"))
	write(t, filepath.Join(dir, "none", "readme.txt"), []byte("text"))
	write(t, filepath.Join(dir, "tiny.jpg"), []byte{0xFF, 0xD8, 0xFF, 0xD9})

	for _, tc := range []struct {
		path  string
		want  []string
		drops int
	}{
		{"missing", []string{"missing", "does not exist"}, 0},
		{"missing/folder", []string{"missing/folder", "does not exist"}, 0},
		{"garbage.bin", []string{"garbage.bin", "no JPEG frame in file"}, 0},
		{"empty.jpg", []string{"empty.jpg", "no JPEG frame"}, 0},
		{"truncated.jpg", []string{"truncated.jpg", "no usable JPEG frame", "truncated"}, 1},
		{"tiny.jpg", []string{"tiny.jpg", "too small"}, 1},
		{"bad", []string{"no usable JPEG frame in folder", "/bad", "2.jpeg"}, 1},
		{"none", []string{"none has no .jpg or .jpeg files"}, 0},
	} {
		t.Run(tc.path, func(t *testing.T) {
			path := filepath.Join(dir, tc.path)
			err, rec := runErr(t, New(path, 25))
			if err == nil {
				t.Fatal("Run succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("Run error %q does not mention %q", err, w)
				}
			}
			if len(rec.Frames()) != 0 || len(rec.Drops()) < tc.drops {
				t.Fatalf("%d frames, %d dropped (%v)", len(rec.Frames()), len(rec.Drops()), rec.Drops())
			}
		})
	}
}

func TestUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can read anything")
	}
	path := filepath.Join(t.TempDir(), "secret.jpg")
	write(t, path, testJPEG(t, 64, 48, 1))
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	err, _ := runErr(t, New(path, 25))
	if err == nil || !strings.Contains(err.Error(), "permission denied") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Run = %v, want permission denied naming the file", err)
	}
}

// TestFolderAppearsLater: the supervisor calls Run again after a failure; a
// folder created meanwhile then plays.
func TestFolderAppearsLater(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "frames")
	s := New(dir, 25)
	if err, _ := runErr(t, s); err == nil {
		t.Fatal("Run on a missing folder succeeded")
	}
	write(t, filepath.Join(dir, "1.jpg"), testJPEG(t, 64, 48, 1))
	rec := runFrames(t, s, 2)
	if fmt.Sprint(widths(rec)) != "[64 64]" {
		t.Fatalf("widths %v", widths(rec))
	}
}

func TestCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "one.jpg")
	write(t, path, testJPEG(t, 64, 48, 1))

	// Cancelled before the start: no frame, nil.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := &sourcetest.Recorder{}
	if err := New(path, 25).Run(ctx, rec); err != nil || rec.Count() != 0 {
		t.Fatalf("Run = %v with %d frames", err, rec.Count())
	}

	// With the real ticker (on synctest's fake clock): a frame at once,
	// then one every 1/fps, and cancel ends Run.
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		for i, f := range sourcetest.RunUntil(t, New(path, 200).Run, 3).Frames() {
			if at := f.Captured.Sub(start); at != time.Duration(i)*5*time.Millisecond {
				t.Fatalf("frame %d captured %v after the start, want %v at 200 fps", i, at, time.Duration(i)*5*time.Millisecond)
			}
		}
	})
}

func TestDefaults(t *testing.T) {
	for _, fps := range []float64{0, -1} {
		if got := New("x", fps).Info().FPS; got != source.DefaultFPS {
			t.Fatalf("New(fps=%v).FPS = %v", fps, got)
		}
	}
}
