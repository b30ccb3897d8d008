package e2e

// Consumers that connect before the camera and keep the first part's size
// for good: OpenCV (its FFmpeg backend) and an ffmpeg recording. The source
// is a file replay whose folder appears only after they connected, the way
// a camera is plugged in after usbStream started; the placeholders they
// get first must already have the size the stream will have.

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// appearLater fills dir with 1280x720 green frames in one rename, so the
// replay never sees a half-written folder.
func appearLater(t *testing.T, dir string) {
	t.Helper()
	staging := dir + ".staging"
	if err := os.Mkdir(staging, 0o755); err != nil {
		t.Fatal(err)
	}
	writeJPEGs(t, staging, 1280, 720, color.RGBA{30, 200, 40, 255})
	if err := os.Rename(staging, dir); err != nil {
		t.Fatal(err)
	}
}

// isGreen tells the replayed frame from the dark "camera offline" picture.
func isGreen(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return g>>8 > 150 && r>>8 < 100 && b>>8 < 100
}

// opencvPython is a Python with OpenCV: Debian's python3-opencv installs
// into the system Python, which may not be the first python3 on PATH.
func opencvPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import cv2").Run() == nil {
			return py
		}
	}
	missing(t, "python3 with OpenCV", "apt-get install python3-opencv")
	return ""
}

// The script reads the stream as OpenCV users do and prints, per frame,
// its size and the colour at its centre.
const opencvReader = `
import sys, time, cv2
cap = cv2.VideoCapture(sys.argv[1])
end = time.time() + float(sys.argv[2])
while time.time() < end:
    ok, img = cap.read()
    if not ok:
        print("fail", flush=True)
        time.sleep(0.1)
        continue
    h, w = img.shape[:2]
    b, g, r = (int(v) for v in img[h // 2, w // 2])
    print(w, h, r, g, b, flush=True)
`

func TestOpenCVConnectedBeforeTheCameraGetsItsPicture(t *testing.T) {
	py := opencvPython(t)
	dir := filepath.Join(t.TempDir(), "camera")
	s := start(t, "-source", "file:"+dir, "-resolution", "1280x720", "-framerate", "10")
	cmd := exec.Command(py, "-c", opencvReader, s.base+"/stream", "12")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type read struct {
		w, h int
		c    color.RGBA
		fail bool
	}
	var (
		mu    sync.Mutex
		reads []read
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var r read
			var cr, cg, cb uint8
			if sc.Text() == "fail" {
				r.fail = true
			} else if _, err := fmt.Sscan(sc.Text(), &r.w, &r.h, &cr, &cg, &cb); err != nil {
				continue
			}
			r.c = color.RGBA{cr, cg, cb, 255}
			mu.Lock()
			reads = append(reads, r)
			mu.Unlock()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(reads) }
	eventually(t, 8*time.Second, "OpenCV reads the placeholder", func() bool { return count() >= 2 })
	before := count()
	appearLater(t, dir)
	<-done
	if err := cmd.Wait(); err != nil {
		t.Fatalf("OpenCV reader: %v\n%s", err, stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reads) < before+10 {
		t.Fatalf("OpenCV read %d frames after the camera came, want at least 10\n%s", len(reads)-before, stderr.String())
	}
	for i, r := range reads {
		if r.fail || r.w != 1280 || r.h != 720 {
			t.Fatalf("read %d: %+v, want every read 1280x720 (the placeholder's size must be the stream's)", i, r)
		}
	}
	last := reads[len(reads)-5:]
	for _, r := range last {
		if !isGreen(r.c) {
			t.Fatalf("OpenCV's last reads show %v, not the camera's green frame: it kept the placeholder (reads %+v)\n%s",
				r.c, last, stderr.String())
		}
	}
	if strings.Contains(stderr.String(), "swscaler") {
		t.Errorf("OpenCV had to rescale frames:\n%s", stderr.String())
	}
	if st := getStatus(t, s).Source; st.SizeChanges != 0 {
		t.Errorf("status counts %d size changes (%+v), want none", st.SizeChanges, st.LastSizeChange)
	}
}

// An ffmpeg recording started before the camera: both a copy into MKV
// (whose header takes the first part's size) and an x264 encode (whose
// size is fixed at its first frame) must come out 1280x720 with the
// camera's picture at the end.
func TestFFmpegRecordingStartedBeforeTheCamera(t *testing.T) {
	ffmpeg := need(t, "ffmpeg")
	ffprobe := need(t, "ffprobe")
	dir := filepath.Join(t.TempDir(), "camera")
	s := start(t, "-source", "file:"+dir, "-resolution", "1280x720", "-framerate", "10")
	out := t.TempDir()
	recordings := map[string][]string{
		"copy.mkv": {"-c", "copy"},
		"x264.mp4": {"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"},
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(recordings))
	for name, codec := range recordings {
		args := append([]string{"-hide_banner", "-loglevel", "error", "-use_wallclock_as_timestamps", "1",
			"-i", s.base + "/stream", "-t", "7"}, codec...)
		args = append(args, filepath.Join(out, name))
		wg.Go(func() {
			if b, err := exec.Command(ffmpeg, args...).CombinedOutput(); err != nil {
				errs <- fmt.Errorf("ffmpeg %s: %v\n%s", name, err, b)
			}
		})
	}
	eventually(t, 8*time.Second, "both recordings to connect", func() bool {
		n := 0
		for _, c := range getStatus(t, s).Clients {
			if c.Kind == "stream" && c.Frames > 0 {
				n++
			}
		}
		return n == len(recordings)
	})
	time.Sleep(time.Second) // a second of placeholders in each recording
	appearLater(t, dir)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for name := range recordings {
		path := filepath.Join(out, name)
		size, err := exec.Command(ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
			"stream=width,height", "-of", "csv=p=0:s=x", path).Output()
		if err != nil {
			t.Fatalf("ffprobe %s: %v", name, err)
		}
		if got := strings.TrimSpace(string(size)); got != "1280x720" {
			t.Errorf("%s is %s, want 1280x720", name, got)
		}
		png := filepath.Join(out, name+".png")
		if b, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-sseof", "-1", "-i", path,
			"-update", "1", "-frames:v", "1", png).CombinedOutput(); err != nil {
			t.Fatalf("last frame of %s: %v\n%s", name, err, b)
		}
		img := decodePNG(t, png)
		if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 720 || !isGreen(img.At(640, 360)) {
			t.Errorf("%s ends with a %v picture of colour %v, want the camera's 1280x720 green frame",
				name, b.Size(), img.At(640, 360))
		}
	}
}

// With -rotate 90 the stream will be the asked size turned, and so is the
// placeholder before the first frame.
func TestPlaceholderBeforeTheCameraIsTurnedWithTheStream(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "camera")
	s := start(t, "-source", "file:"+dir, "-resolution", "1280x720", "-rotate", "90")
	if sz := placeholderSnapshot(t, s, "no files yet").Bounds().Size(); sz != image.Pt(720, 1280) {
		t.Fatalf("placeholder is %v, want 720x1280 (1280x720 turned)", sz)
	}
}
