package source

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"usbstream/internal/frame"
)

// stallingSource sends one frame, then blocks as a read of a FIFO does,
// without failing, until resume lets it send frames again.
type stallingSource struct{ resume chan struct{} }

func (s stallingSource) Info() Info {
	return Info{Kind: "file", Device: "stalling", Width: 8, Height: 8, FPS: 25}
}
func (s stallingSource) Run(ctx context.Context, sink Sink) error {
	send := func(now time.Time) {
		sink.Frame(&frame.Frame{JPEG: []byte{0xff, 0xd8, 0xff, 0xd9}, Captured: now, Width: 8, Height: 8})
	}
	send(time.Now())
	select {
	case <-ctx.Done():
		return nil
	case <-s.resume:
	}
	return every10ms(ctx, send)
}

// A source that stops delivering without failing is reported stalled, with
// a placeholder saying so and one warning, and is streaming again when its
// frames come back.
func TestSupervisorReportsAStalledSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zap.DebugLevel)
		out := &collector{}
		src := stallingSource{resume: make(chan struct{})}
		sup := NewSupervisor(src, out, fakePlaceholder, zap.New(core))
		sup.StallAfter = 300 * time.Millisecond
		clk := newClock()
		defer run(t, sup)()

		// One frame at 0, then nothing: the stall is noticed by the first
		// tick of the placeholder ticker (every 250 ms) at or after
		// StallAfter, not before.
		clk.at(499 * time.Millisecond)
		if st := sup.Status(); st.State != Streaming {
			t.Fatalf("%s before StallAfter had passed at a tick: %s", st.State, st.Error)
		}
		clk.at(500 * time.Millisecond)
		st := sup.Status()
		if st.State != Stalled || !strings.Contains(st.Error, "no frame since") || st.LastFrameAt == nil ||
			clk.since(*st.LastFrameAt) != 0 || clk.since(st.Since) != 500*time.Millisecond {
			t.Fatalf("stalled status %+v, want stalled since 500 ms, the error saying since when there is no frame", st)
		}
		out.mu.Lock()
		last := out.frames[len(out.frames)-1]
		out.mu.Unlock()
		if !last.Placeholder || !strings.HasPrefix(string(last.JPEG), "NO FRAMES: no frame since") {
			t.Fatalf("last part %q, want a placeholder saying there are no frames", last.JPEG)
		}
		clk.at(1100 * time.Millisecond)
		if n := logs.FilterMessageSnippet("stalled").FilterLevelExact(zap.WarnLevel).Len(); n != 1 {
			t.Fatalf("%d warnings about the stall, want 1", n)
		}
		placeholders := len(out.offsets(clk, true))

		close(src.resume)
		clk.at(1110 * time.Millisecond) // the first frame after the resume
		if st := sup.Status(); st.State != Streaming || st.Error != "" {
			t.Fatalf("status %+v after frames came back, want streaming without an error", st)
		}
		clk.at(1600 * time.Millisecond)
		if st := sup.Status(); st.State != Streaming {
			t.Fatalf("state %s while frames arrive", st.State)
		}
		if p := out.offsets(clk, true); len(p) != placeholders {
			t.Fatalf("placeholders at %v, want none after the frames came back at 1110 ms", p)
		}
	})
}

// A source at a low rate is not stalled between two of its frames: the
// limit is at least three frame intervals.
func TestSupervisorStallLimitFollowsTheFrameRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &slowSource{fps: 2}
		sup := NewSupervisor(src, &collector{}, fakePlaceholder, zap.NewNop())
		sup.StallAfter = 100 * time.Millisecond
		clk := newClock()
		defer run(t, sup)()
		for d := time.Duration(0); d <= 3*time.Second; d += 50 * time.Millisecond {
			clk.at(d)
			if st := sup.Status(); st.State != Streaming {
				t.Fatalf("a 2 fps source is %s at %v, between frames: %s", st.State, d, st.Error)
			}
		}
	})
}

type slowSource struct{ fps float64 }

func (s *slowSource) Info() Info { return Info{Kind: "test", Device: "slow", FPS: s.fps} }
func (s *slowSource) Run(ctx context.Context, sink Sink) error {
	t := time.NewTicker(time.Duration(float64(time.Second) / s.fps))
	defer t.Stop()
	for {
		sink.Frame(&frame.Frame{JPEG: []byte{0xff, 0xd8, 0xff, 0xd9}, Captured: time.Now(), Width: 8, Height: 8})
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// skippingSource reports the same odd inputs on every pass, as a replayed
// folder with a FIFO in it does.
type skippingSource struct{ passes int }

func (s skippingSource) Info() Info { return Info{Kind: "file", Device: "/frames"} }
func (s skippingSource) Run(ctx context.Context, sink Sink) error {
	for range s.passes {
		sink.Skipped("fifo.jpg", errors.New("is a named pipe (FIFO)"))
		sink.Skipped("zero.jpg", errors.New("is a symlink to /dev/zero"))
	}
	<-ctx.Done()
	return nil
}

// A skipped input is one warning naming it and why, however many passes
// report it; a new source may warn again.
func TestSkippedInputsAreWarnedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zap.DebugLevel)
		sup := NewSupervisor(skippingSource{passes: 500}, &collector{}, fakePlaceholder, zap.New(core))
		defer run(t, sup)()
		warnings := func() []observer.LoggedEntry {
			return logs.FilterMessageSnippet("skipped").FilterLevelExact(zap.WarnLevel).AllUntimed()
		}
		synctest.Wait()
		w := warnings()
		if len(w) != 2 {
			t.Fatalf("%d warnings for 2 inputs skipped 500 times each", len(w))
		}
		for i, want := range []string{"fifo.jpg", "zero.jpg"} {
			m := w[i].ContextMap()
			if m["input"] != want || m["device"] != "/frames" || m["error"] == "" {
				t.Fatalf("warning %d: %v, want it to name %s, the folder and why", i, m, want)
			}
		}
		if n := logs.Len(); n > 10 {
			t.Fatalf("%d log lines for 1000 skips", n)
		}
		sup.Replace(skippingSource{passes: 1})
		synctest.Wait()
		if n := len(warnings()); n != 4 {
			t.Fatalf("%d warnings after a new source skipped the same inputs, want 4", n)
		}
	})
}

// A stall is noticed at a tick that also marks its start: its placeholders
// come then and once a second after, as during any other outage.
func TestPlaceholdersDuringAStallComeOnceASecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &collector{}
		sup := NewSupervisor(stallingSource{resume: make(chan struct{})}, out, fakePlaceholder, zap.NewNop())
		sup.StallAfter = 300 * time.Millisecond
		clk := newClock()
		defer run(t, sup)()
		clk.at(4750 * time.Millisecond)
		// One frame at 0; the stall is seen at the tick at 500 ms.
		if got := fmt.Sprint(out.offsets(clk, true)); got != "[500ms 1.5s 2.5s 3.5s 4.5s]" {
			t.Fatalf("placeholders at %s, want one when the stall is seen (500 ms), then one every second", got)
		}
	})
}
