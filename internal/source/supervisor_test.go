package source

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"usbstream/internal/frame"
)

// scriptedSource fails the first `failures` runs, then streams frames.
type scriptedSource struct {
	mu       sync.Mutex
	failures int
	runs     int
}

func (s *scriptedSource) Info() Info {
	return Info{Kind: "test", Device: "scripted", Width: 32, Height: 24}
}

func (s *scriptedSource) Run(ctx context.Context, sink Sink) error {
	s.mu.Lock()
	s.runs++
	fail := s.runs <= s.failures
	s.mu.Unlock()
	if fail {
		return errors.New("device unplugged")
	}
	sink.Dropped(errors.New("truncated"))
	return every10ms(ctx, func(now time.Time) {
		sink.Frame(&frame.Frame{JPEG: []byte{0xff, 0xd8, 0xff, 0xd9}, Captured: now, Width: 32, Height: 24})
	})
}

// every10ms calls tick every 10 ms until ctx ends: a test source's frames.
func every10ms(ctx context.Context, tick func(now time.Time)) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			tick(now)
		}
	}
}

// collector records published frames.
type collector struct {
	mu     sync.Mutex
	frames []*frame.Frame
}

func (c *collector) Publish(f *frame.Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames = append(c.frames, f)
}

func (c *collector) counts() (real, placeholders int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.frames {
		if f.Placeholder {
			placeholders++
		} else {
			real++
		}
	}
	return
}

func fakePlaceholder(w, h int, title, reason string, now time.Time) ([]byte, error) {
	return []byte(title + ": " + reason), nil
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSupervisorServesPlaceholderWhileLostThenRecovers(t *testing.T) {
	src := &scriptedSource{failures: 3}
	out := &collector{}
	sup := NewSupervisor(src, out, fakePlaceholder, zap.NewNop())
	sup.RetryInterval = 400 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sup.Run(ctx); close(done) }()

	waitUntil(t, "lost state", func() bool { return sup.Status().State == Lost })
	st := sup.Status()
	if st.Error != "device unplugged" || st.Device != "scripted" {
		t.Fatalf("lost status = %+v", st)
	}
	waitUntil(t, "a placeholder", func() bool { _, p := out.counts(); return p > 0 })
	out.mu.Lock()
	first := out.frames[0]
	out.mu.Unlock()
	if !first.Placeholder || string(first.JPEG) != "CAMERA OFFLINE: device unplugged" || first.Width != 32 {
		t.Fatalf("placeholder = %+v %q", first, first.JPEG)
	}

	waitUntil(t, "streaming after retries", func() bool { return sup.Status().State == Streaming })
	waitUntil(t, "real frames", func() bool { r, _ := out.counts(); return r >= 20 })
	st = sup.Status()
	if st.Error != "" || st.FramesCaptured < 20 || st.FramesDropped != 1 || st.LastFrameAt == nil {
		t.Fatalf("streaming status = %+v", st)
	}
	// No placeholder after the first camera frame: a stale "offline"
	// picture after recovery would flash in every viewer.
	out.mu.Lock()
	seenReal := false
	for i, f := range out.frames {
		if seenReal && f.Placeholder {
			t.Errorf("frame %d is a placeholder published after a real frame", i)
		}
		seenReal = seenReal || !f.Placeholder
	}
	out.mu.Unlock()
	// No placeholder once frames flow: count them, wait, compare. The
	// measured rate must match the rate the frame counter shows over the
	// same time, whatever speed this machine manages.
	_, before := out.counts()
	c1, t1 := sup.Status().FramesCaptured, time.Now()
	time.Sleep(2 * time.Second)
	st2 := sup.Status()
	actual := float64(st2.FramesCaptured-c1) / time.Since(t1).Seconds()
	if _, after := out.counts(); after != before {
		t.Fatalf("placeholders kept coming while streaming: %d → %d", before, after)
	}
	if fps := st2.MeasuredFPS; fps <= 0 || fps > 110 || math.Abs(fps-actual) > max(5, actual/2) {
		t.Fatalf("measured fps = %v, but frames arrived at %.1f/s", fps, actual)
	}

	cancel()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if sup.Status().State != Stopped {
		t.Fatalf("state after stop = %s", sup.Status().State)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.runs != 4 {
		t.Fatalf("source ran %d times, want 3 failures + 1 success", src.runs)
	}
}

func TestAbsentKeepsMessageAndIsRecognised(t *testing.T) {
	base := errors.New("no camera found")
	err := fmt.Errorf("context: %w", Absent(base))
	if !errors.Is(err, ErrAbsent) || !errors.Is(err, base) || err.Error() != "context: no camera found" {
		t.Fatalf("Absent: %v (is absent %v, is base %v)", err, errors.Is(err, ErrAbsent), errors.Is(err, base))
	}
	if errors.Is(base, ErrAbsent) {
		t.Fatal("a plain error counts as absent")
	}
}

// idleSource is a camera nobody watches: it captures but encodes nothing.
type idleSource struct{}

func (idleSource) Info() Info                               { return Info{Kind: "camera", Device: "/dev/video0"} }
func (idleSource) Run(ctx context.Context, sink Sink) error { return every10ms(ctx, sink.Idle) }

// An unwatched camera is streaming, not lost, and gets no placeholders.
func TestSupervisorIdleSourceIsStreaming(t *testing.T) {
	out := &collector{}
	sup := NewSupervisor(idleSource{}, out, fakePlaceholder, zap.NewNop())
	sup.StartGrace = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sup.Run(ctx)
	waitUntil(t, "streaming", func() bool { return sup.Status().State == Streaming })
	time.Sleep(1200 * time.Millisecond)
	st := sup.Status()
	if real, placeholders := out.counts(); real != 0 || placeholders != 0 || st.State != Streaming || st.FramesCaptured < 10 {
		t.Fatalf("published %d frames and %d placeholders; status %+v", real, placeholders, st)
	}
}

// sizedSource streams frames of one size until cancelled.
type sizedSource struct {
	w       int
	stopped chan struct{}
}

func (s *sizedSource) Info() Info { return Info{Kind: "test", Device: "sized", Width: s.w, Height: 10} }
func (s *sizedSource) Run(ctx context.Context, sink Sink) error {
	defer close(s.stopped)
	return every10ms(ctx, func(now time.Time) {
		sink.Frame(&frame.Frame{JPEG: []byte{0xff, 0xd8, 0xff, 0xd9}, Captured: now, Width: s.w, Height: 10})
	})
}

func TestSupervisorReplaceSwitchesSources(t *testing.T) {
	a := &sizedSource{w: 11, stopped: make(chan struct{})}
	b := &sizedSource{w: 22, stopped: make(chan struct{})}
	out := &collector{}
	sup := NewSupervisor(a, out, fakePlaceholder, zap.NewNop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sup.Run(ctx); close(done) }()
	waitUntil(t, "frames from the first source", func() bool { r, _ := out.counts(); return r > 3 })
	sup.Replace(b)
	select {
	case <-a.stopped:
	case <-time.After(2 * time.Second):
		t.Fatal("the replaced source was not stopped")
	}
	waitUntil(t, "frames from the new source", func() bool {
		out.mu.Lock()
		defer out.mu.Unlock()
		return out.frames[len(out.frames)-1].Width == 22
	})
	if sup.Status().Width != 22 || sup.Status().State != Streaming {
		t.Fatalf("status after replace: %+v", sup.Status())
	}
	cancel()
	<-done
	select {
	case <-b.stopped:
	default:
		t.Fatal("the new source still runs after the supervisor stopped")
	}
}

// failingSource fails every run, after delivering one frame if flaky.
type failingSource struct {
	flaky bool
	runs  atomic.Int32
}

func (f *failingSource) Info() Info { return Info{Kind: "camera", Device: "/dev/video9"} }
func (f *failingSource) Run(ctx context.Context, sink Sink) error {
	f.runs.Add(1)
	if f.flaky {
		sink.Frame(&frame.Frame{JPEG: []byte{0xff, 0xd8, 0xff, 0xd9}, Captured: time.Now(), Width: 2, Height: 2})
	}
	return errors.New("gone")
}

// A source that was delivering is retried quickly again and again; one
// that never delivers backs off to RetryInterval.
func TestSupervisorRetryBackOff(t *testing.T) {
	runs := func(flaky bool) int32 {
		src := &failingSource{flaky: flaky}
		sup := NewSupervisor(src, &collector{}, fakePlaceholder, zap.NewNop())
		sup.FirstRetry, sup.RetryInterval = 50*time.Millisecond, 400*time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
		defer cancel()
		sup.Run(ctx)
		return src.runs.Load()
	}
	// Never delivering: runs at 0, 50, 150, 350, 750 ms (then 1150): about 6.
	// Delivering each time: every 50 ms, about 24.
	absent, flaky := runs(false), runs(true)
	if absent > 8 || flaky < 12 {
		t.Fatalf("runs in 1.2 s: %d for an absent source (want about 6), %d for a flaky one (want about 24)", absent, flaky)
	}
}

// burstDropper drops n frames at once whenever its channel says so.
type burstDropper struct{ bursts chan int }

func (b burstDropper) Info() Info { return Info{Kind: "test", Device: "dropper", Width: 8, Height: 8} }
func (b burstDropper) Run(ctx context.Context, sink Sink) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case n := <-b.bursts:
			for i := range n {
				sink.Dropped(fmt.Errorf("corrupt buffer %d", i))
			}
		}
	}
}

func TestDroppedFramesAreReportedAtMostOncePerInterval(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	src := burstDropper{bursts: make(chan int)}
	sup := NewSupervisor(src, &collector{}, fakePlaceholder, zap.New(core))
	sup.DropReportInterval = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sup.Run(ctx)
	warnings := func() []observer.LoggedEntry {
		return logs.FilterMessage("frames dropped").FilterLevelExact(zap.WarnLevel).AllUntimed()
	}

	src.bursts <- 100
	waitUntil(t, "100 drops counted", func() bool { return sup.Status().FramesDropped == 100 })
	w := warnings()
	if len(w) != 1 || w[0].ContextMap()["sinceLastReport"] != uint64(1) {
		t.Fatalf("after the first burst: %v, want one warning for the first drop", w)
	}
	if n := logs.FilterMessage("frame dropped").FilterLevelExact(zap.DebugLevel).Len(); n != 99 {
		t.Fatalf("%d drops at debug level, want the other 99", n)
	}
	// The burst is over; its 99 other drops are reported once the interval
	// has passed, without waiting for another drop.
	waitUntil(t, "the rest of the burst reported", func() bool { return len(warnings()) == 2 })
	w = warnings()
	if w[1].ContextMap()["sinceLastReport"] != uint64(99) ||
		!strings.Contains(fmt.Sprint(w[1].ContextMap()["error"]), "corrupt buffer 99") {
		t.Fatalf("second warning %v, want the 99 unreported drops and the last reason", w[1].ContextMap())
	}
	// A drop long after the last report is reported at once.
	time.Sleep(350 * time.Millisecond)
	src.bursts <- 1
	waitUntil(t, "101 drops counted", func() bool { return sup.Status().FramesDropped == 101 })
	if w = warnings(); len(w) != 3 || w[2].ContextMap()["sinceLastReport"] != uint64(1) {
		t.Fatalf("after a quiet interval: %v, want a third warning for the one drop", w)
	}
	// Drops not yet reported when the source ends are reported then.
	src.bursts <- 5
	waitUntil(t, "106 drops counted", func() bool { return sup.Status().FramesDropped == 106 })
	cancel()
	waitUntil(t, "stopped", func() bool { return sup.Status().State == Stopped })
	if w = warnings(); len(w) != 4 || w[3].ContextMap()["sinceLastReport"] != uint64(5) {
		t.Fatalf("at the end: %v, want a fourth warning for the last 5 drops", w)
	}
}

// A source standing in for a configuration with an error: the placeholder
// says so, the state is lost with the error, nothing is warned about (the
// application reports the error), and a replacement streams at once.
func TestSupervisorMisconfiguredThenMended(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	out := &collector{}
	sup := NewSupervisor(Misconfigured(errors.New("usbStream.config:3: -rotate 45: must be 0, 90, 180 or 270")),
		out, fakePlaceholder, zap.New(core))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { sup.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitUntil(t, "a placeholder", func() bool { _, p := out.counts(); return p > 0 })
	want := "CONFIGURATION ERROR: configuration error: usbStream.config:3: -rotate 45: must be 0, 90, 180 or 270"
	out.mu.Lock()
	first := out.frames[0]
	out.mu.Unlock()
	if string(first.JPEG) != want {
		t.Fatalf("placeholder %q, want %q", first.JPEG, want)
	}
	if st := sup.Status(); st.State != Lost || !strings.HasPrefix(st.Error, "configuration error: usbStream.config:3:") {
		t.Fatalf("status %+v", st)
	}
	time.Sleep(1500 * time.Millisecond) // a few rounds of the retry loop
	if n := logs.FilterLevelExact(zap.WarnLevel).Len() + logs.FilterLevelExact(zap.InfoLevel).Len(); n != 0 {
		t.Fatalf("%d info/warning lines for a configuration error the application reports: %v", n, logs.All())
	}
	sup.Replace(&scriptedSource{})
	waitUntil(t, "streaming after the mended configuration", func() bool { return sup.Status().State == Streaming })
}

func TestPlaceholderIsRefreshedEverySecond(t *testing.T) {
	// A source that stays lost; README promises a placeholder a second.
	src := &scriptedSource{failures: 1 << 30}
	out := &collector{}
	sup := NewSupervisor(src, out, fakePlaceholder, zap.NewNop())
	sup.RetryInterval = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sup.Run(ctx)
	waitUntil(t, "a placeholder", func() bool { _, p := out.counts(); return p > 0 })
	time.Sleep(4200 * time.Millisecond)
	out.mu.Lock()
	var gaps []time.Duration
	for i := 1; i < len(out.frames); i++ {
		gaps = append(gaps, out.frames[i].Captured.Sub(out.frames[i-1].Captured).Round(time.Millisecond))
	}
	out.mu.Unlock()
	if len(gaps) < 4 {
		t.Fatalf("%d placeholders in 4.2 s after the first, want 4 (one a second); gaps %v", len(gaps), gaps)
	}
	for _, g := range gaps {
		if g < 900*time.Millisecond || g > 1100*time.Millisecond {
			t.Fatalf("placeholders %v apart, want every second", gaps)
		}
	}
}

// lateSource is absent (and knows no size, like an unopened camera) until
// here is set, then streams frames of its size (1280x720 if unset).
type lateSource struct {
	here atomic.Bool
	w, h int
}

func (l *lateSource) size() (int, int) {
	if l.w == 0 {
		return 1280, 720
	}
	return l.w, l.h
}

func (l *lateSource) Info() Info {
	if l.here.Load() {
		w, h := l.size()
		return Info{Kind: "camera", Device: "/dev/video0", Width: w, Height: h}
	}
	return Info{Kind: "camera", Device: "/dev/video0"}
}
func (l *lateSource) Run(ctx context.Context, sink Sink) error {
	if !l.here.Load() {
		return Absent(errors.New("waiting for camera"))
	}
	w, h := l.size()
	return every10ms(ctx, func(now time.Time) {
		sink.Frame(&frame.Frame{JPEG: []byte{0xff, 0xd8, 0xff, 0xd9}, Captured: now, Width: w, Height: h})
	})
}

// A consumer connecting before the camera keeps the first part's size, so
// the placeholder must have the size the configuration asks for; without
// one, the change the camera then makes is counted in the status.
func TestPlaceholderHasTheConfiguredSizeBeforeTheCamera(t *testing.T) {
	for _, tc := range []struct {
		name       string
		hint       func() (int, int)
		camW, camH int
		wantFirst  [2]int
		changes    uint64
		from, to   string
	}{
		{"hinted", func() (int, int) { return 1280, 720 }, 1280, 720, [2]int{1280, 720}, 0, "", ""},
		{"no hint", func() (int, int) { return 0, 0 }, 1280, 720, [2]int{640, 480}, 1, "640x480", "1280x720"},
		// Asked for 1280x720, the camera gives 640x480: unavoidable, counted.
		{"camera gives another size", func() (int, int) { return 1280, 720 }, 640, 480, [2]int{1280, 720}, 1, "1280x720", "640x480"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &lateSource{w: tc.camW, h: tc.camH}
			out := &collector{}
			sup := NewSupervisor(src, out, fakePlaceholder, zap.NewNop())
			sup.SizeHint, sup.RetryInterval, sup.FirstRetry = tc.hint, 20*time.Millisecond, 20*time.Millisecond
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go sup.Run(ctx)
			waitUntil(t, "a placeholder", func() bool { _, p := out.counts(); return p > 0 })
			out.mu.Lock()
			first := out.frames[0]
			out.mu.Unlock()
			if got := [2]int{first.Width, first.Height}; !first.Placeholder || got != tc.wantFirst {
				t.Fatalf("first part: placeholder=%v %v, want a %v placeholder", first.Placeholder, got, tc.wantFirst)
			}
			if w, h := sup.PlaceholderSize(); [2]int{w, h} != tc.wantFirst {
				t.Fatalf("snapshot placeholder size %dx%d, want %v", w, h, tc.wantFirst)
			}
			src.here.Store(true)
			waitUntil(t, "camera frames", func() bool { r, _ := out.counts(); return r > 3 })
			st := sup.Status()
			if st.SizeChanges != tc.changes {
				t.Fatalf("sizeChanges %d (%+v), want %d", st.SizeChanges, st.LastSizeChange, tc.changes)
			}
			if tc.changes > 0 && (st.LastSizeChange == nil || st.LastSizeChange.From != tc.from || st.LastSizeChange.To != tc.to) {
				t.Fatalf("lastSizeChange %+v, want %s to %s", st.LastSizeChange, tc.from, tc.to)
			}
		})
	}
}
