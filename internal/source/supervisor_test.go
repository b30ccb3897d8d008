package source

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
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

// clock reads the fake clock of a synctest bubble: at(d) sleeps until d
// after the clock was made, then waits until every goroutine of the bubble
// is blocked again, so that everything due by then (ticks, retries,
// frames) has happened when the test looks.
type clock struct{ start time.Time }

func newClock() clock { return clock{time.Now()} }

func (c clock) at(d time.Duration) {
	time.Sleep(time.Until(c.start.Add(d)))
	synctest.Wait()
}

// since is how long after the clock's start t is.
func (c clock) since(t time.Time) time.Duration { return t.Sub(c.start) }

// run starts sup in the bubble. stop cancels it and fails the test unless
// Run returns at once, without the clock moving. A test that fails first
// stops it too (t.Context ends), so that the bubble is left with nothing
// blocked.
func run(t *testing.T, sup *Supervisor) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { sup.Run(ctx); close(done) }()
	return func() {
		t.Helper()
		cancel()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("Run did not return at once after cancel")
		}
	}
}

// offsets are the capture times of frames (placeholders or not) from the
// clock's start.
func (c *collector) offsets(clk clock, placeholders bool) []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var d []time.Duration
	for _, f := range c.frames {
		if f.Placeholder == placeholders {
			d = append(d, clk.since(f.Captured))
		}
	}
	return d
}

func TestSupervisorServesPlaceholderWhileLostThenRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &scriptedSource{failures: 3}
		out := &collector{}
		sup := NewSupervisor(src, out, fakePlaceholder, zap.NewNop())
		sup.RetryInterval = 400 * time.Millisecond
		clk := newClock()
		stop := run(t, sup)

		clk.at(0)
		if st := sup.Status(); st.State != Lost || st.Error != "device unplugged" || st.Device != "scripted" {
			t.Fatalf("lost status = %+v", st)
		}
		// The first placeholder comes with the first tick of the
		// placeholder ticker (a quarter second).
		clk.at(250 * time.Millisecond)
		out.mu.Lock()
		first := out.frames
		out.mu.Unlock()
		if len(first) != 1 || !first[0].Placeholder || string(first[0].JPEG) != "CAMERA OFFLINE: device unplugged" || first[0].Width != 32 {
			t.Fatalf("published %d parts, want one placeholder: %+v", len(first), first)
		}
		// Runs at 0 and 250 ms (FirstRetry), then 650 and 1050 ms
		// (RetryInterval); the fourth streams a frame every 10 ms from
		// 1060 ms, after one drop.
		clk.at(1059 * time.Millisecond)
		src.mu.Lock()
		runs := src.runs
		src.mu.Unlock()
		if st := sup.Status(); runs != 4 || st.State != Lost || st.FramesDropped != 1 {
			t.Fatalf("after %d runs: status %+v, want the fourth run started and still no frame", runs, st)
		}
		clk.at(1250 * time.Millisecond)
		st := sup.Status()
		if st.State != Streaming || st.Error != "" || st.FramesCaptured != 20 || st.FramesDropped != 1 ||
			st.LastFrameAt == nil || clk.since(*st.LastFrameAt) != 1250*time.Millisecond {
			t.Fatalf("streaming status = %+v, want 20 frames, the last at 1250 ms", st)
		}
		// No placeholder after the first camera frame: a stale "offline"
		// picture after recovery would flash in every viewer. The refresh
		// due at 1250 ms is not sent.
		if p := out.offsets(clk, true); len(p) != 1 {
			t.Fatalf("placeholders at %v, want only the one at 250 ms", p)
		}
		out.mu.Lock()
		for i, f := range out.frames[1:] {
			if f.Placeholder {
				t.Errorf("part %d is a placeholder published after a real frame", i+1)
			}
		}
		out.mu.Unlock()
		// Two more seconds of frames: still no placeholder, and the
		// measured rate is the rate the frame counter shows.
		clk.at(3250 * time.Millisecond)
		st2 := sup.Status()
		actual := float64(st2.FramesCaptured-st.FramesCaptured) / 2
		if p := out.offsets(clk, true); len(p) != 1 {
			t.Fatalf("placeholders kept coming while streaming: %v", p)
		}
		if actual != 100 || st2.MeasuredFPS != actual {
			t.Fatalf("measured fps = %v, but frames arrived at %v/s (want 100)", st2.MeasuredFPS, actual)
		}

		stop()
		if sup.Status().State != Stopped {
			t.Fatalf("state after stop = %s", sup.Status().State)
		}
		src.mu.Lock()
		defer src.mu.Unlock()
		if src.runs != 4 {
			t.Fatalf("source ran %d times, want 3 failures + 1 success", src.runs)
		}
	})
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
	synctest.Test(t, func(t *testing.T) {
		out := &collector{}
		sup := NewSupervisor(idleSource{}, out, fakePlaceholder, zap.NewNop())
		sup.StartGrace = 50 * time.Millisecond
		clk := newClock()
		defer run(t, sup)()
		clk.at(1200 * time.Millisecond)
		st := sup.Status()
		if real, placeholders := out.counts(); real != 0 || placeholders != 0 || st.State != Streaming ||
			clk.since(st.Since) != 10*time.Millisecond || st.FramesCaptured != 120 {
			t.Fatalf("published %d frames and %d placeholders; status %+v, want streaming since the first idle tick at 10 ms and 120 counted", real, placeholders, st)
		}
	})
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
	synctest.Test(t, func(t *testing.T) {
		a := &sizedSource{w: 11, stopped: make(chan struct{})}
		b := &sizedSource{w: 22, stopped: make(chan struct{})}
		out := &collector{}
		sup := NewSupervisor(a, out, fakePlaceholder, zap.NewNop())
		clk := newClock()
		stop := run(t, sup)
		clk.at(40 * time.Millisecond)
		sup.Replace(b)
		synctest.Wait()
		select {
		case <-a.stopped:
		default:
			t.Fatal("the replaced source was not stopped at once")
		}
		// The new source starts at once: its frames come every 10 ms
		// from 50 ms, and none of the old one's after them.
		clk.at(100 * time.Millisecond)
		out.mu.Lock()
		var widths []int
		for _, f := range out.frames {
			widths = append(widths, f.Width)
		}
		out.mu.Unlock()
		if got := fmt.Sprint(widths); got != "[11 11 11 11 22 22 22 22 22 22]" {
			t.Fatalf("widths of the parts published %s, want four frames of the first source, then six of the new one", got)
		}
		if sup.Status().Width != 22 || sup.Status().State != Streaming {
			t.Fatalf("status after replace: %+v", sup.Status())
		}
		stop()
		select {
		case <-b.stopped:
		default:
			t.Fatal("the new source still runs after the supervisor stopped")
		}
	})
}

// failingSource fails every run, after delivering one frame if flaky, and
// notes when each run began.
type failingSource struct {
	flaky bool
	mu    sync.Mutex
	runs  []time.Time
}

func (f *failingSource) Info() Info { return Info{Kind: "camera", Device: "/dev/video9"} }
func (f *failingSource) Run(ctx context.Context, sink Sink) error {
	f.mu.Lock()
	f.runs = append(f.runs, time.Now())
	f.mu.Unlock()
	if f.flaky {
		sink.Frame(&frame.Frame{JPEG: []byte{0xff, 0xd8, 0xff, 0xd9}, Captured: time.Now(), Width: 2, Height: 2})
	}
	return errors.New("gone")
}

// A source that was delivering is retried quickly again and again; one
// that never delivers backs off to RetryInterval.
func TestSupervisorRetryBackOff(t *testing.T) {
	runs := func(flaky bool) (at []time.Duration) {
		synctest.Test(t, func(t *testing.T) {
			src := &failingSource{flaky: flaky}
			sup := NewSupervisor(src, &collector{}, fakePlaceholder, zap.NewNop())
			sup.FirstRetry, sup.RetryInterval = 50*time.Millisecond, 400*time.Millisecond
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 1190*time.Millisecond)
			defer cancel()
			sup.Run(ctx)
			for _, r := range src.runs {
				at = append(at, r.Sub(start))
			}
		})
		return at
	}
	// Never delivering: the pause doubles from 50 ms to 400 ms.
	if got := fmt.Sprint(runs(false)); got != "[0s 50ms 150ms 350ms 750ms 1.15s]" {
		t.Errorf("an absent source ran at %s, want at 0, 50, 150, 350, 750 and 1150 ms", got)
	}
	// Delivering each time: every 50 ms.
	var want []time.Duration
	for d := time.Duration(0); d < 1190*time.Millisecond; d += 50 * time.Millisecond {
		want = append(want, d)
	}
	if got := runs(true); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("a flaky source ran at %v, want every 50 ms: %v", got, want)
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
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zap.DebugLevel)
		src := burstDropper{bursts: make(chan int)}
		sup := NewSupervisor(src, &collector{}, fakePlaceholder, zap.New(core))
		sup.DropReportInterval = 300 * time.Millisecond
		clk := newClock()
		stop := run(t, sup)
		warnings := func() []observer.LoggedEntry {
			return logs.FilterMessage("frames dropped").FilterLevelExact(zap.WarnLevel).AllUntimed()
		}

		src.bursts <- 100
		synctest.Wait()
		w := warnings()
		if n := sup.Status().FramesDropped; n != 100 || len(w) != 1 || w[0].ContextMap()["sinceLastReport"] != uint64(1) {
			t.Fatalf("after the first burst: %d drops counted, warnings %v; want 100 and one warning for the first drop", n, w)
		}
		if n := logs.FilterMessage("frame dropped").FilterLevelExact(zap.DebugLevel).Len(); n != 99 {
			t.Fatalf("%d drops at debug level, want the other 99", n)
		}
		// The burst is over; its 99 other drops are reported by the first
		// tick of the placeholder ticker (every 250 ms) after the
		// interval, without waiting for another drop.
		clk.at(499 * time.Millisecond)
		if n := len(warnings()); n != 1 {
			t.Fatalf("%d warnings before the tick after the interval, want 1", n)
		}
		clk.at(500 * time.Millisecond)
		w = warnings()
		if len(w) != 2 || w[1].ContextMap()["sinceLastReport"] != uint64(99) ||
			!strings.Contains(fmt.Sprint(w[1].ContextMap()["error"]), "corrupt buffer 99") {
			t.Fatalf("warnings %v, want a second for the 99 unreported drops and the last reason", w)
		}
		// A drop more than the interval after the last report is reported
		// at once.
		clk.at(850 * time.Millisecond)
		src.bursts <- 1
		synctest.Wait()
		if w = warnings(); sup.Status().FramesDropped != 101 || len(w) != 3 || w[2].ContextMap()["sinceLastReport"] != uint64(1) {
			t.Fatalf("after a quiet interval: %v, want a third warning for the one drop", w)
		}
		// Drops not yet reported when the source ends are reported then.
		src.bursts <- 5
		synctest.Wait()
		if n := sup.Status().FramesDropped; n != 106 || len(warnings()) != 3 {
			t.Fatalf("%d drops counted, %d warnings; want 106 and the last 5 held back within the interval", n, len(warnings()))
		}
		stop()
		if w = warnings(); len(w) != 4 || w[3].ContextMap()["sinceLastReport"] != uint64(5) {
			t.Fatalf("at the end: %v, want a fourth warning for the last 5 drops", w)
		}
	})
}

// A source standing in for a configuration with an error: the placeholder
// says so, the state is lost with the error, nothing is warned about (the
// application reports the error), and a replacement streams at once.
func TestSupervisorMisconfiguredThenMended(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zap.DebugLevel)
		out := &collector{}
		sup := NewSupervisor(Misconfigured(errors.New("usbStream.config:3: -rotate 45: must be 0, 90, 180 or 270")),
			out, fakePlaceholder, zap.New(core))
		clk := newClock()
		defer run(t, sup)()

		clk.at(250 * time.Millisecond)
		want := "CONFIGURATION ERROR: configuration error: usbStream.config:3: -rotate 45: must be 0, 90, 180 or 270"
		out.mu.Lock()
		parts := out.frames
		out.mu.Unlock()
		if len(parts) != 1 || string(parts[0].JPEG) != want {
			t.Fatalf("%d parts, want one placeholder %q", len(parts), want)
		}
		if st := sup.Status(); st.State != Lost || !strings.HasPrefix(st.Error, "configuration error: usbStream.config:3:") {
			t.Fatalf("status %+v", st)
		}
		clk.at(1700 * time.Millisecond) // retried at 250 and 750 ms
		if n := logs.FilterLevelExact(zap.WarnLevel).Len() + logs.FilterLevelExact(zap.InfoLevel).Len(); n != 0 {
			t.Fatalf("%d info/warning lines for a configuration error the application reports: %v", n, logs.All())
		}
		sup.Replace(&scriptedSource{})
		// The retry wait ends at once: the new source's first frame comes
		// 10 ms later.
		clk.at(1710 * time.Millisecond)
		if st := sup.Status(); st.State != Streaming {
			t.Fatalf("state %s 10 ms after the mended configuration, want streaming", st.State)
		}
	})
}

func TestPlaceholderIsRefreshedEverySecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A source that stays lost; README promises a placeholder a second.
		src := &scriptedSource{failures: 1 << 30}
		out := &collector{}
		sup := NewSupervisor(src, out, fakePlaceholder, zap.NewNop())
		sup.RetryInterval = time.Hour
		clk := newClock()
		defer run(t, sup)()
		clk.at(4250 * time.Millisecond)
		if got := fmt.Sprint(out.offsets(clk, true)); got != "[250ms 1.25s 2.25s 3.25s 4.25s]" {
			t.Fatalf("placeholders at %s, want the first at the first tick (250 ms), then one every second", got)
		}
	})
}

// The fake clock's ticks are exact; the real clock's jitter by
// microseconds either way, and the fourth tick after a publish must still
// count as a second later, or the refresh slips to every 1.25 s.
func TestPlaceholderRefreshAllowsTickJitter(t *testing.T) {
	last := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, d := range []time.Duration{time.Second - 2*time.Microsecond, time.Second, time.Second + 2*time.Microsecond} {
		if !refreshDue(last.Add(d), last) {
			t.Errorf("a tick %v after the last placeholder is not due; the refresh would wait a tick more", d)
		}
	}
	if refreshDue(last.Add(3*placeholderTick+2*time.Microsecond), last) {
		t.Error("the third tick after the last placeholder is due: refreshed every 0.75 s")
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
			synctest.Test(t, func(t *testing.T) {
				src := &lateSource{w: tc.camW, h: tc.camH}
				out := &collector{}
				sup := NewSupervisor(src, out, fakePlaceholder, zap.NewNop())
				sup.SizeHint, sup.RetryInterval, sup.FirstRetry = tc.hint, 20*time.Millisecond, 20*time.Millisecond
				clk := newClock()
				defer run(t, sup)()
				clk.at(250 * time.Millisecond)
				out.mu.Lock()
				parts := out.frames
				out.mu.Unlock()
				if len(parts) != 1 || !parts[0].Placeholder || [2]int{parts[0].Width, parts[0].Height} != tc.wantFirst {
					t.Fatalf("%d parts, want one %v placeholder: %+v", len(parts), tc.wantFirst, parts)
				}
				if w, h := sup.PlaceholderSize(); [2]int{w, h} != tc.wantFirst {
					t.Fatalf("snapshot placeholder size %dx%d, want %v", w, h, tc.wantFirst)
				}
				// Retried every 20 ms: the run at 260 ms streams, a frame
				// every 10 ms from 270 ms.
				src.here.Store(true)
				clk.at(300 * time.Millisecond)
				if real, placeholders := out.counts(); real != 4 || placeholders != 1 {
					t.Fatalf("%d camera frames and %d placeholders by 300 ms, want 4 and 1", real, placeholders)
				}
				st := sup.Status()
				if st.SizeChanges != tc.changes {
					t.Fatalf("sizeChanges %d (%+v), want %d", st.SizeChanges, st.LastSizeChange, tc.changes)
				}
				if tc.changes > 0 && (st.LastSizeChange == nil || st.LastSizeChange.From != tc.from || st.LastSizeChange.To != tc.to ||
					clk.since(st.LastSizeChange.At) != 270*time.Millisecond) {
					t.Fatalf("lastSizeChange %+v, want %s to %s at the first frame (270 ms)", st.LastSizeChange, tc.from, tc.to)
				}
			})
		})
	}
}
