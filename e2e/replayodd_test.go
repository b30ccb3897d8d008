package e2e

import (
	"bytes"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// oddFolder fills dir with a FIFO, a symlink to /dev/zero and a symlink
// loop, all named .jpg.
func oddFolder(t *testing.T, dir string) {
	t.Helper()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.jpg"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"zero.jpg": "/dev/zero", "loop1.jpg": "loop2.jpg", "loop2.jpg": "loop1.jpg"} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// A replayed folder with a FIFO, a symlink to /dev/zero and a symlink loop
// beside one real picture streams that picture at the configured rate,
// warns once about each odd entry, says "streaming" truthfully, and exits
// within a second of SIGTERM. Before, the replay blocked opening the FIFO
// after the first frame while /status said "streaming", and SIGTERM hung.
func TestReplayFolderWithOddEntries(t *testing.T) {
	dir := t.TempDir()
	oddFolder(t, dir)
	// fifo.jpg sorts before frame0.jpg: every pass meets it first, and before
	// the fix no frame ever came.
	pic := writeJPEGs(t, dir, 160, 120, color.RGBA{0, 120, 255, 255})[0]
	s := start(t, "-source", "file:"+dir, "-framerate", "10")
	w := watch(t, s.base+"/stream")
	time.Sleep(3 * time.Second)
	window := time.Now().Add(-2 * time.Second)
	parts := w.since(window)
	real := 0
	for _, p := range parts {
		if p.placeholder {
			t.Fatalf("a placeholder was streamed:\n%s", s.output)
		}
		if !bytes.Equal(p.jpeg, pic) {
			t.Fatalf("a part of %d bytes is not the picture", len(p.jpeg))
		}
		real++
	}
	fps := float64(real) / 2
	t.Logf("%.1f fps over the last 2 s at -framerate 10 with a FIFO, /dev/zero and a symlink loop in the folder", fps)
	if fps < 8 {
		t.Fatalf("%.1f fps, want about 10\n%s", fps, s.output)
	}
	st := getStatus(t, s)
	if st.Source.State != "streaming" || st.Source.MeasuredFPS < 8 || st.Source.Error != "" {
		t.Fatalf("status %+v, want streaming at about 10 fps", st.Source)
	}
	log := s.output.String()
	for _, name := range []string{"fifo.jpg", "zero.jpg", "loop1.jpg", "loop2.jpg"} {
		n := 0
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, "input skipped") && strings.Contains(line, name) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d warnings naming %s after 30 passes, want 1:\n%s", n, name, log)
		}
	}
	for _, why := range []string{"named pipe (FIFO)", "symlink to /dev/zero, which is a character device", "too many levels of symbolic links"} {
		if !strings.Contains(log, why) {
			t.Fatalf("the log does not say %q:\n%s", why, log)
		}
	}
	took := s.stopWithin(t, time.Second)
	t.Logf("exited %v after SIGTERM", took)
}

// A folder of nothing but odd entries, or -source naming a FIFO, is an
// error state like a missing camera: /status says lost and why, the
// snapshot is a 503 placeholder, and SIGTERM still exits within a second.
func TestReplayOnlyOddEntriesIsAnError(t *testing.T) {
	dir := t.TempDir()
	oddFolder(t, dir)
	for name, c := range map[string]struct{ path, want string }{
		"folder": {dir, "no usable JPEG frame in folder " + dir},
		"fifo":   {filepath.Join(dir, "fifo.jpg"), "fifo.jpg is a named pipe (FIFO); only regular files are replayed"},
	} {
		t.Run(name, func(t *testing.T) {
			s := start(t, "-source", "file:"+c.path, "-framerate", "10")
			waitState(t, s, "lost", c.want, 5*time.Second)
			placeholderSnapshot(t, s, "snapshot")
			took := s.stopWithin(t, time.Second)
			t.Logf("exited %v after SIGTERM", took)
		})
	}
}
