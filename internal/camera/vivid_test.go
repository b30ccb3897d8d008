package camera

// Tests against the real vivid V4L2 driver. They run inside the qemu VM
// that tools/vmtest boots (VMTEST=1), via tools/vmtest/camera.sh; anywhere
// else they are skipped.

import (
	"bytes"
	"context"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"usbstream/internal/frame"
	"usbstream/internal/jpeg"
	"usbstream/internal/placard"
	"usbstream/internal/source"
	"usbstream/internal/source/sourcetest"
	"usbstream/internal/vividtest"
)

func needVivid(t *testing.T) []Device {
	t.Helper()
	if os.Getenv("VMTEST") == "" {
		t.Skip("needs the vivid driver: run tools/vmtest/camera.sh")
	}
	devs, err := List()
	if err != nil {
		t.Fatal(err)
	}
	return devs
}

// The VM loads vivid with n_devs=2 node_types=0x1,0x1: two capture nodes
// and nothing else.
func TestVividDiscovery(t *testing.T) {
	devs := needVivid(t)
	if len(devs) != 2 || devs[0].Path != "/dev/video0" || devs[1].Path != "/dev/video1" {
		t.Fatalf("found %d cameras: %+v", len(devs), devs)
	}
	for _, d := range devs {
		t.Logf("%s: name %q driver %q bus %q", d.Path, d.Name, d.Driver, d.BusInfo)
		if d.Driver != "vivid" {
			t.Errorf("%s: driver %q", d.Path, d.Driver)
		}
		var formats []string
		for _, f := range d.Formats {
			formats = append(formats, f.FourCC)
		}
		for _, want := range []string{"YUYV", "NV12", "YU12", "GREY", "RGB3"} {
			if !slices.Contains(formats, want) {
				t.Errorf("%s lacks format %s (has %v)", d.Path, want, formats)
			}
		}
		var yuyv Format
		for _, f := range d.Formats {
			if f.FourCC == "YUYV" {
				yuyv = f
			}
		}
		found := false
		for _, s := range yuyv.Sizes {
			if s.Width == 640 && s.Height == 480 {
				found = len(s.FPS) > 0
			}
		}
		if !found {
			t.Errorf("%s: YUYV has no 640x480 with frame rates: %+v", d.Path, yuyv.Sizes)
		}
		b, ok := findControl(d.Controls, "brightness")
		if !ok || b.Max <= b.Min || b.Value == nil {
			t.Errorf("%s: brightness control %+v", d.Path, b)
		}
	}
}

func TestVividNegotiation(t *testing.T) {
	devs := needVivid(t)
	d := devs[0]
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{Request{Format: "YUYV", Width: 1280, Height: 720, FPS: 25}, "YUYV 1280x720"},
		{Request{Format: "YUYV", Width: 1920, Height: 1800, FPS: 25}, "YUYV 1920x1080"}, // -size 2
		{Request{Format: "NV12", Width: 640, Height: 480, FPS: 25}, "NV12 640x480"},
		{Request{Format: "MJPG", Width: 640, Height: 480, FPS: 25}, "YUYV 640x480"}, // vivid has no MJPG
	} {
		c, err := negotiate(d, tc.req, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Format + " " + sizeString(c.Width, c.Height); got != tc.want {
			t.Errorf("%+v: got %s (%v), want %s", tc.req, got, c.Notes, tc.want)
		}
	}
}

func sizeString(w, h int) string { return strconv.Itoa(w) + "x" + strconv.Itoa(h) }

// captureFrames runs a camera source until it delivered n frames.
func captureFrames(t *testing.T, opt Options, n int) []*frame.Frame {
	t.Helper()
	s := New(opt, zap.NewNop())
	rec := &sourcetest.Recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, rec) }()
	rec.WaitFrames(t, n)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rec.Frames()
}

func decodeFrame(t *testing.T, f *frame.Frame) image.Image {
	t.Helper()
	img, err := stdjpeg.Decode(bytes.NewReader(f.JPEG))
	if err != nil {
		t.Fatalf("frame is not a JPEG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != f.Width || b.Dy() != f.Height {
		t.Fatalf("frame says %dx%d, image is %v", f.Width, f.Height, b)
	}
	return img
}

// Each raw format is captured and encoded; vivid stamps the start of
// exposure, so the capture times come from the driver's buffer timestamps
// (captureTime) and must be recent, not in the future.
func TestVividCaptureEncodesEachRawFormat(t *testing.T) {
	needVivid(t)
	vividtest.ExposureTimestamps(t, "/dev/video0")
	for _, format := range []string{"YUYV", "NV12", "YU12", "GREY", "RGB3"} {
		t.Run(format, func(t *testing.T) {
			frames := captureFrames(t, Options{Spec: "0", Request: Request{Format: format, Width: 640, Height: 480, FPS: 25}}, 3)
			for _, f := range frames {
				img := decodeFrame(t, f)
				if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 480 {
					t.Fatalf("%s frame is %v", format, b)
				}
				if age := time.Since(f.Captured); age < 0 || age > 5*time.Second {
					t.Fatalf("capture time %v is %v from now", f.Captured, age)
				}
			}
		})
	}
}

// vivid's default pattern is vertical colour bars: rotated by 90 degrees
// clockwise they run top to bottom, and what was on the left is on top.
func TestVividRotate90(t *testing.T) {
	needVivid(t)
	req := Request{Format: "YUYV", Width: 640, Height: 480, FPS: 25}
	plain := decodeFrame(t, captureFrames(t, Options{Spec: "0", Request: req}, 2)[1])
	rot := decodeFrame(t, captureFrames(t, Options{Spec: "0", Request: req, Transform: jpeg.Transform{Rotate: 90}}, 2)[1])
	if b := rot.Bounds(); b.Dx() != 480 || b.Dy() != 640 {
		t.Fatalf("rotated frame is %v, want 480x640", b)
	}
	// Sample the middle row of bars (away from vivid's text overlay).
	for _, x := range []int{40, 200, 360, 520, 600} {
		y := 300
		want := plain.At(x, y)
		// 90 clockwise: (x, y) goes to (H-1-y, x).
		got := rot.At(480-1-y, x)
		if !near(want, got, 40) {
			t.Errorf("pixel (%d,%d) = %v, rotated pixel = %v", x, y, want, got)
		}
	}
}

func near(a, b interface{ RGBA() (r, g, b, a uint32) }, tol int) bool {
	ar, ag, ab, _ := a.RGBA()
	br, bg, bb, _ := b.RGBA()
	d := func(x, y uint32) int {
		v := int(x>>8) - int(y>>8)
		if v < 0 {
			v = -v
		}
		return v
	}
	return d(ar, br) <= tol && d(ag, bg) <= tol && d(ab, bb) <= tol
}

// idleTimes is the sink of a camera nobody watches: every frame comes as
// Idle with its capture time, in the order the driver numbered them.
type idleTimes struct {
	mu          sync.Mutex
	times       []time.Time
	driverDrops uint64
	problems    []string
}

func (s *idleTimes) add(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.times = append(s.times, t)
}

func (s *idleTimes) Frame(f *frame.Frame) { s.add(f.Captured) }
func (s *idleTimes) Idle(t time.Time)     { s.add(t) }
func (s *idleTimes) Dropped(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.problems = append(s.problems, "dropped: "+err.Error())
}
func (s *idleTimes) Skipped(name string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.problems = append(s.problems, "skipped "+name+": "+err.Error())
}
func (s *idleTimes) DriverDropped(n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.driverDrops += n
}

func (s *idleTimes) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.times)
}

// vivid told to drop half its buffers skips them but numbers and times
// every frame on its own clock (with start-of-exposure timestamps, frame n
// is stamped start + n periods, and captureTime takes that stamp). So the
// capture times of the frames it hands over say how many it skipped, on
// the driver's side, independently of the sequence numbers the camera
// counts with: the two counts must agree. Nobody watches, so every frame
// comes to the sink at once, as Idle, in order (no encoder pool between).
func TestVividDriverDropsAreWhatTheDriverSkipped(t *testing.T) {
	needVivid(t)
	vividtest.ExposureTimestamps(t, "/dev/video0")
	vividtest.Set(t, "/dev/video0", vividtest.DroppedPercent, 50)
	t.Cleanup(func() { vividtest.Set(t, "/dev/video0", vividtest.DroppedPercent, 0) })
	s, sink, stop := runIdle(t)
	const want = 60
	deadline := time.Now().Add(60 * time.Second)
	for sink.count() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d frames in 60 s, want %d", sink.count(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	fps := s.Info().FPS
	if fps <= 0 {
		t.Fatalf("no frame rate from the driver: %+v", s.Info())
	}
	period := time.Duration(float64(time.Second) / fps)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.problems) > 0 {
		t.Fatalf("the camera reported %v", sink.problems)
	}
	// Each step between two frames is a whole number of periods; a frame
	// dated at its dequeue instead (captureTime's fallback, when the VM was
	// too slow to take it in time) makes its steps inexact, and each such
	// step may be one frame off.
	var skipped, inexact int
	for i := 1; i < len(sink.times); i++ {
		steps := float64(sink.times[i].Sub(sink.times[i-1])) / float64(period)
		n := math.Round(steps)
		if math.Abs(steps-n) > 0.1 {
			inexact++
		}
		skipped += int(n) - 1
	}
	got := int(sink.driverDrops)
	t.Logf("%d frames at %.4g fps: %d skipped by the driver's clock (%d inexact steps), %d counted from sequence numbers",
		len(sink.times), fps, skipped, inexact, got)
	if got < len(sink.times)/3 {
		t.Fatalf("%d driver drops counted with half of %d+ frames dropped", got, len(sink.times))
	}
	if d := got - skipped; d > inexact || -d > inexact {
		t.Fatalf("%d driver drops counted, the driver's timestamps say %d (%d inexact steps)", got, skipped, inexact)
	}
}

// runIdle runs /dev/video0 at 640x480 YUYV with nobody watching. stop ends
// the run and checks how it ended; the test's cleanup calls it too.
func runIdle(t *testing.T) (s *Source, sink *idleTimes, stop func()) {
	s = New(Options{Spec: "0", Request: Request{Format: "YUYV", Width: 640, Height: 480, FPS: 25},
		Demand: func() bool { return false }}, zap.NewNop())
	sink = &idleTimes{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, sink) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return s, sink, stop
}

func (s *idleTimes) problemCount() int { return len(s.reported()) }

func (s *idleTimes) reported() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.problems)
}

// A buffer the driver marks as corrupted (V4L2_BUF_FLAG_ERROR, which vivid
// sets on demand) is dropped as such, one drop per buffer, and the stream
// goes on. The flag is only in what DQBUF returns: requeueing the buffer
// rewrites it.
func TestVividCorruptedBuffersAreDropped(t *testing.T) {
	needVivid(t)
	_, sink, _ := runIdle(t)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("no %s within 10 s: %d frames, problems %v", what, sink.count(), sink.reported())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("first frame", func() bool { return sink.count() > 0 })
	const injected = 3
	for i := range injected {
		vividtest.Set(t, "/dev/video0", vividtest.BufferError, 1)
		waitFor(fmt.Sprintf("drop %d", i+1), func() bool { return sink.problemCount() > i })
	}
	frames := sink.count()
	waitFor("frames after the corrupted ones", func() bool { return sink.count() >= frames+5 })
	problems := sink.reported()
	if len(problems) != injected {
		t.Fatalf("%d corrupted buffers injected, the camera reported %v", injected, problems)
	}
	for _, p := range problems {
		if p != "dropped: "+errBadBuffer.Error() {
			t.Fatalf("problem %q, want the driver's corrupted-frame drop", p)
		}
	}
}

func TestVividControlsSetAndReadBack(t *testing.T) {
	devs := needVivid(t)
	b, _ := findControl(devs[0].Controls, "brightness")
	want := b.Min + (b.Max-b.Min)/4
	s := New(Options{Spec: "0", Request: Request{Format: "YUYV", Width: 320, Height: 240, FPS: 25},
		Controls: []ControlSetting{{Name: "Brightness", Value: strconv.Itoa(int(want))}}}, zap.NewNop())
	rec := &sourcetest.Recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, rec) }()
	rec.WaitFrames(t, 1)
	after, _ := List()
	c, _ := findControl(after[0].Controls, "brightness")
	cancel()
	<-done
	if c.Value == nil || *c.Value != want {
		t.Fatalf("brightness while streaming = %v, want %d", c.Value, want)
	}
	restored, _ := List()
	r, _ := findControl(restored[0].Controls, "brightness")
	if *r.Value != *b.Value {
		t.Fatalf("brightness after stop = %d, want the original %d restored", *r.Value, *b.Value)
	}
}

func TestVividSelectByIndexAndName(t *testing.T) {
	devs := needVivid(t)
	for i, d := range devs {
		got, err := Select(devs, strconv.Itoa(i))
		if err != nil || got.Path != d.Path {
			t.Fatalf("index %d: %v %v", i, got.Path, err)
		}
		if got, err := Select(devs, d.Path); err != nil || got.Path != d.Path {
			t.Fatalf("path %s: %v %v", d.Path, got.Path, err)
		}
	}
	if devs[0].Name != devs[1].Name {
		for _, d := range devs {
			if got, err := Select(devs, strings.ToUpper(d.Name)); err != nil || got.Path != d.Path {
				t.Fatalf("name %q: %v %v", d.Name, got.Path, err)
			}
		}
	} else if _, err := Select(devs, devs[0].Name); err == nil || !strings.Contains(err.Error(), "matches 2") {
		t.Fatalf("two cameras named %q: %v, want an ambiguity error listing both", devs[0].Name, err)
	}
}

// latestCollector is the hub's role: it keeps what the supervisor publishes.
type latestCollector struct {
	mu     sync.Mutex
	frames []*frame.Frame
}

func (l *latestCollector) Publish(f *frame.Frame) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.frames = append(l.frames, f)
}

func (l *latestCollector) since(t time.Time) (real, placeholders int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.frames {
		if f.Captured.Before(t) {
			continue
		}
		if f.Placeholder {
			placeholders++
		} else {
			real++
		}
	}
	return
}

func openFDs() int {
	entries, _ := os.ReadDir("/proc/self/fd")
	return len(entries)
}

// Unplug and replug VIVID_CYCLES times (default 20): placeholders while it
// is gone, camera frames again soon after, and no fd or goroutine growth.
// "Soon" is judged by the VM's own speed: within 6 times what the first
// open took (Run to the first camera frame), and at least 3 s is allowed.
func TestVividDisconnectCycles(t *testing.T) {
	needVivid(t)
	out := &latestCollector{}
	log := zaptest.NewLogger(t, zaptest.Level(zap.DebugLevel))
	src := New(Options{Spec: "0", Request: Request{Format: "YUYV", Width: 320, Height: 240, FPS: 25}}, log)
	sup := source.NewSupervisor(src, out, placard.Placeholder, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sup.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitReal := func(after time.Time, within time.Duration) {
		t.Helper()
		deadline := after.Add(within)
		for {
			if real, _ := out.since(after); real > 0 {
				return
			}
			if time.Now().After(deadline) {
				st := sup.Status()
				t.Fatalf("no camera frame within %v (state %s since %v, error %q)", within, st.State, st.Since, st.Error)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	began := time.Now()
	waitReal(began, 10*time.Second)
	firstOpen := time.Since(began)
	limit := vividtest.Patience(firstOpen, 6, 3*time.Second)
	cycles := vividtest.Cycles(t)
	var back []time.Duration
	var fds0, gor0 int
	for cycle := range cycles {
		if cycle == 2 { // after the first reopens: steady state
			fds0, gor0 = openFDs(), runtime.NumGoroutine()
		}
		pressed := time.Now()
		vividtest.Set(t, "/dev/video0", vividtest.Disconnect, 1)
		t.Logf("cycle %d: Disconnect pressed", cycle)
		// The source notices, the supervisor serves a placeholder...
		deadline := pressed.Add(vividtest.Patience(firstOpen, 12, 5*time.Second))
		for {
			if _, ph := out.since(pressed); ph > 0 {
				break
			}
			if time.Now().After(deadline) {
				st := sup.Status()
				t.Fatalf("cycle %d: no placeholder after Disconnect (state %s since %v, error %q)", cycle, st.State, st.Since, st.Error)
			}
			time.Sleep(10 * time.Millisecond)
		}
		lost := time.Now()
		// ...and reopens the camera.
		waitReal(lost, limit)
		back = append(back, time.Since(lost))
		t.Logf("cycle %d: placeholder after %v, frames again %v later", cycle, lost.Sub(pressed).Round(time.Millisecond),
			back[cycle].Round(time.Millisecond))
	}
	fmt.Printf("vivid-replug-source: %d cycles, camera frames again after p50 %v max %v (first open %v, limit %v)\n",
		cycles, vividtest.Median(back).Round(time.Millisecond), slices.Max(back).Round(time.Millisecond),
		firstOpen.Round(time.Millisecond), limit.Round(time.Millisecond))
	vividtest.CheckTypicalReopen(t, back, firstOpen)
	time.Sleep(200 * time.Millisecond)
	if fds, gor := openFDs(), runtime.NumGoroutine(); fds > fds0 || gor > gor0+2 {
		t.Fatalf("after %d cycles: %d fds (was %d), %d goroutines (was %d)", cycles, fds, fds0, gor, gor0)
	}
}
