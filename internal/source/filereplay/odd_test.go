package filereplay

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"usbstream/internal/source/sourcetest"
)

// oddEntries makes, in dir, one entry of every kind that is not a regular
// file, each named .jpg so that the listing picks it up, and returns what
// the skip reason of each must say.
func oddEntries(t *testing.T, dir string) map[string]string {
	t.Helper()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.jpg"), 0o644); err != nil {
		t.Fatal(err)
	}
	symlink(t, "/dev/zero", filepath.Join(dir, "zero.jpg"))
	symlink(t, "loop2.jpg", filepath.Join(dir, "loop1.jpg"))
	symlink(t, "loop1.jpg", filepath.Join(dir, "loop2.jpg"))
	ln, err := net.Listen("unix", filepath.Join(dir, "sock.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return map[string]string{
		"fifo.jpg":  "is a named pipe (FIFO); only regular files are replayed",
		"zero.jpg":  "is a symlink to /dev/zero, which is a character device",
		"loop1.jpg": "too many levels of symbolic links",
		"loop2.jpg": "too many levels of symbolic links",
		"sock.jpg":  "is a socket",
	}
}

func symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

// checkSkips requires every entry of want to have been reported skipped
// with its reason, and nothing else.
func checkSkips(t *testing.T, rec *sourcetest.Recorder, want map[string]string) {
	t.Helper()
	seen := map[string]bool{}
	for _, s := range rec.Skips() {
		w, ok := want[s.Name]
		if !ok || !strings.Contains(s.Reason.Error(), w) {
			t.Fatalf("skipped %s: %v; want one of %v", s.Name, s.Reason, want)
		}
		seen[s.Name] = true
	}
	for name := range want {
		if !seen[name] {
			t.Fatalf("%s was not reported skipped (skips %v)", name, rec.Skips())
		}
	}
}

// A FIFO, a symlink to /dev/zero, a symlink loop and a socket in a replayed
// folder are skipped with their reason; the real picture plays on every
// tick. Before, opening the FIFO blocked for ever and /dev/zero was read
// without end.
func TestFolderSkipsEntriesThatAreNotRegularFiles(t *testing.T) {
	dir := t.TempDir()
	want := oddEntries(t, dir)
	a := testJPEG(t, 64, 48, 1)
	write(t, filepath.Join(dir, "a.jpg"), a)
	write(t, filepath.Join(dir, "m.jpg"), testJPEG(t, 72, 48, 2))
	rec := runFrames(t, New(dir, 25), 6)
	if got := fmt.Sprint(widths(rec)); got != "[64 72 64 72 64 72]" {
		t.Fatalf("widths %s, want the two pictures in turn", got)
	}
	checkSkips(t, rec, want)
	if len(rec.Drops()) != 0 {
		t.Fatalf("dropped %v: skipped files are not dropped frames", rec.Drops())
	}
}

// A folder of nothing but odd entries fails with a message that says why,
// which the supervisor shows in /status, as it does a missing camera.
func TestFolderOfOnlyOddEntriesFails(t *testing.T) {
	dir := t.TempDir()
	want := oddEntries(t, dir)
	err, rec := runErr(t, New(dir, 25))
	if err == nil {
		t.Fatal("Run succeeded")
	}
	for _, w := range []string{"no usable JPEG frame in folder " + dir, "only regular files are replayed"} {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("Run = %q, want it to say %q", err, w)
		}
	}
	checkSkips(t, rec, want)
}

// -source file: naming a FIFO, /dev/zero or a symlink loop fails at once
// with the reason.
func TestReplayedPathThatIsNotARegularFileFails(t *testing.T) {
	dir := t.TempDir()
	oddEntries(t, dir)
	for name, want := range map[string]string{
		"fifo.jpg":  "fifo.jpg is a named pipe (FIFO); only regular files are replayed",
		"zero.jpg":  "zero.jpg is a symlink to /dev/zero, which is a character device",
		"loop1.jpg": "too many levels of symbolic links",
		"sock.jpg":  "sock.jpg is a socket",
	} {
		t.Run(name, func(t *testing.T) {
			err, _ := runErr(t, New(filepath.Join(dir, name), 25))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Run = %v, want %q", err, want)
			}
		})
	}
	// /dev/zero itself too, without a symlink.
	err, _ := runErr(t, New("/dev/zero", 25))
	if err == nil || !strings.Contains(err.Error(), "/dev/zero is a character device") {
		t.Fatalf("Run(/dev/zero) = %v", err)
	}
}

// bytesRead is what this process has read from files so far
// (/proc/self/io rchar), to tell a file skipped from a file read through.
func bytesRead(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skip("no /proc/self/io:", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no rchar in /proc/self/io")
	return 0
}

// sparse makes a file of size bytes that holds no data (a hole).
func sparse(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// A 1 GB file of zeros beside a picture costs 16 MiB of reading once, not
// 1 GB per pass; the picture plays on every tick. Before, each pass read
// the whole gigabyte.
func TestHugeFileWithoutFramesIsReadOnce(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.jpg"), testJPEG(t, 64, 48, 1))
	sparse(t, filepath.Join(dir, "b.jpg"), 1<<30)
	before := bytesRead(t)
	rec := runFrames(t, New(dir, 25), 20)
	read := bytesRead(t) - before
	for i, w := range widths(rec) {
		if w != 64 {
			t.Fatalf("frame %d is %d wide, not the picture", i, w)
		}
	}
	if read > 24<<20 {
		t.Fatalf("read %d MiB for 20 passes over a 1 GiB file of zeros, want at most one 16 MiB look", read>>20)
	}
	checkSkips(t, rec, map[string]string{"b.jpg": "no usable JPEG frame in 16 MiB from byte 0; the rest of the data, from byte 0 on, is not read"})
}

// The same file replayed alone fails with that reason, and the retries the
// supervisor makes do not read it again while it is unchanged.
func TestHugeFileWithoutFramesFailsClearly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zeros.mjpeg")
	sparse(t, path, 1<<30)
	s := New(path, 25)
	before := bytesRead(t)
	for range 5 {
		err, _ := runErr(t, s)
		if err == nil || !strings.Contains(err.Error(), "no usable JPEG frame in 16 MiB from byte 0") || !strings.Contains(err.Error(), path) {
			t.Fatalf("Run = %v", err)
		}
	}
	if read := bytesRead(t) - before; read > 24<<20 {
		t.Fatalf("read %d MiB in 5 runs over a 1 GiB file of zeros", read>>20)
	}
	// Once the file changes, it is read again: here it gets a picture.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(testJPEG(t, 64, 48, 1), 0)
	f.Close()
	rec := runFrames(t, s, 2)
	if fmt.Sprint(widths(rec)) != "[64 64]" {
		t.Fatalf("widths %v after the file got a picture", widths(rec))
	}
}

// Random bytes hold FF D8 FF by chance; the search for a frame still ends
// after 16 MiB without a usable one, counted from the last good frame.
func TestGarbageFileIsGivenUp(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.jpg"), testJPEG(t, 64, 48, 1))
	garbage := make([]byte, 40<<20)
	x := uint64(1)
	for i := range garbage {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		garbage[i] = byte(x)
	}
	// And a frame start for certain, followed by junk.
	copy(garbage[1000:], []byte{0xFF, 0xD8, 0xFF, 0x12})
	write(t, filepath.Join(dir, "b.jpg"), garbage)
	before := bytesRead(t)
	rec := runFrames(t, New(dir, 25), 10)
	if read := bytesRead(t) - before; read > 24<<20 {
		t.Fatalf("read %d MiB for 10 passes over 40 MiB of garbage", read>>20)
	}
	checkSkips(t, rec, map[string]string{"b.jpg": "no usable JPEG frame in 16 MiB from byte 0"})
}

// A file that grows while it is read is read up to the size it had when
// opened; what it grew by comes in the next pass. Before, the reader
// followed the growth, so a file written as fast as it was read (a capture
// in progress, or a log named .mjpeg) kept it for ever.
func TestGrowingFileIsReadToItsSizeAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "capture.mjpeg")
	write(t, path, testJPEG(t, 64, 48, 1))
	s := New(path, 25)
	c := useManualClock(s)
	rec := &sourcetest.Recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, rec) }()
	rec.WaitFrames(t, 1)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(testJPEG(t, 72, 48, 2))
	f.Close()
	for range 3 {
		c.Ticks <- time.Time{}
	}
	rec.WaitFrames(t, 4)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(widths(rec)); got != "[64 64 72 64]" {
		t.Fatalf("widths %s, want [64 64 72 64]: the pass that began before the growth ends where the file ended", got)
	}
}

// padded is a JPEG made larger than the reader's 64 KiB buffer by comment
// segments, so that a change to the file shows in the middle of it.
func padded(t *testing.T, w int, seed uint8) []byte {
	j := testJPEG(t, w, 48, seed)
	com := append([]byte{0xFF, 0xFE, 0xFF, 0xFF}, make([]byte, 65533)...)
	return append(append(append([]byte{}, j[:2]...), bytes.Repeat(com, 2)...), j[2:]...)
}

// A file cut short while it is read loses the frames cut off, with a
// message; the replay goes on with what is left. (This held before too;
// it guards the size cap, which must not read past the new end.)
func TestFileTruncatedWhileRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "capture.mjpeg")
	a, b, c := padded(t, 64, 1), padded(t, 72, 2), padded(t, 80, 3)
	write(t, path, append(append(append([]byte{}, a...), b...), c...))
	s := New(path, 25)
	clock := useManualClock(s)
	rec := &sourcetest.Recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, rec) }()
	rec.WaitFrames(t, 1)
	if err := os.Truncate(path, int64(len(a)+len(b)/2)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		clock.Ticks <- time.Time{}
	}
	rec.WaitFrames(t, 3)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(widths(rec)); got != "[64 64 64]" {
		t.Fatalf("widths %s, want the first frame only once the file is cut", got)
	}
	if len(rec.Drops()) == 0 || !strings.Contains(rec.Drops()[0].Error(), "truncated") {
		t.Fatalf("drops %v, want the cut frame reported truncated", rec.Drops())
	}
}

// A replayed folder replaced by a file, then by a FIFO: each Run (the
// supervisor's retries) does what the path is now, and never blocks.
func TestFolderReplacedByAFileThenAFIFO(t *testing.T) {
	base := t.TempDir()
	path := filepath.Join(base, "frames")
	write(t, filepath.Join(path, "a.jpg"), testJPEG(t, 64, 48, 1))
	s := New(path, 25)
	c := useManualClock(s)
	rec := &sourcetest.Recorder{}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background(), rec) }()
	rec.WaitFrames(t, 1)
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	write(t, path, testJPEG(t, 72, 48, 2))
	c.Ticks <- time.Time{}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "cannot list the folder") {
			t.Fatalf("Run = %v, want the folder gone reported", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end when its folder became a file")
	}
	if got := fmt.Sprint(widths(runFrames(t, s, 2))); got != "[72 72]" {
		t.Fatalf("widths %s after the folder became a file", got)
	}
	os.Remove(path)
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err, _ := runErr(t, s); err == nil || !strings.Contains(err.Error(), "named pipe") {
		t.Fatalf("Run on a FIFO = %v", err)
	}
}

// A file nobody may read is skipped with the reason; the others play.
func TestUnreadableFileInAFolderIsSkipped(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can read anything")
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.jpg"), testJPEG(t, 64, 48, 1))
	write(t, filepath.Join(dir, "b.jpg"), testJPEG(t, 72, 48, 2))
	if err := os.Chmod(filepath.Join(dir, "b.jpg"), 0); err != nil {
		t.Fatal(err)
	}
	rec := runFrames(t, New(dir, 25), 3)
	if got := fmt.Sprint(widths(rec)); got != "[64 64 64]" {
		t.Fatalf("widths %s", got)
	}
	checkSkips(t, rec, map[string]string{"b.jpg": "permission denied"})
}

// Reading that finds no usable frame stops at the budget for the tick and
// goes on at the next, so a folder of files that each cost much to reject
// lowers the rate instead of keeping one tick busy for as long as it takes.
func TestReadBudgetPerTick(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.jpg"), testJPEG(t, 64, 48, 1))
	bad := padded(t, 72, 2) // over 128 KiB
	bad = bad[:len(bad)-10]
	for i := range 10 {
		write(t, filepath.Join(dir, fmt.Sprintf("b%d.jpg", i)), bad)
	}
	s := New(dir, 25)
	s.readBudget = int64(len(bad)) + 1 // one or two bad files a tick
	c := useManualClock(s)
	rec := &sourcetest.Recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, rec) }()
	for range 12 {
		select {
		case c.Ticks <- time.Time{}:
		case <-time.After(10 * time.Second):
			t.Fatal("Run took no tick")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Without the budget every tick would bring a.jpg round again (13
	// frames); with it, the 10 bad files take 5 to 10 ticks each pass.
	if n := rec.Count(); n < 2 || n > 3 {
		t.Fatalf("%d frames after 12 ticks, want 2 or 3: one per pass over 10 bad files at 1 to 2 a tick", n)
	}
	if n := len(rec.Drops()); n < 10 {
		t.Fatalf("%d truncated frames reported, want a whole pass of the 10 bad files", n)
	}
}
