package source

import (
	"context"
	"errors"
	"strings"
	"testing"
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
	core, logs := observer.New(zap.DebugLevel)
	out := &collector{}
	src := stallingSource{resume: make(chan struct{})}
	sup := NewSupervisor(src, out, fakePlaceholder, zap.New(core))
	sup.StallAfter = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sup.Run(ctx)

	waitUntil(t, "streaming", func() bool { return sup.Status().State == Streaming })
	began := time.Now()
	waitUntil(t, "stalled", func() bool { return sup.Status().State == Stalled })
	if took := time.Since(began); took < 250*time.Millisecond {
		t.Fatalf("stalled after %v, before StallAfter", took)
	}
	st := sup.Status()
	if !strings.Contains(st.Error, "no frame since") || st.LastFrameAt == nil {
		t.Fatalf("stalled status %+v, want the error to say since when there is no frame", st)
	}
	waitUntil(t, "a placeholder", func() bool { _, p := out.counts(); return p > 0 })
	out.mu.Lock()
	last := string(out.frames[len(out.frames)-1].JPEG)
	out.mu.Unlock()
	if !strings.HasPrefix(last, "NO FRAMES: no frame since") {
		t.Fatalf("placeholder %q, want it to say there are no frames", last)
	}
	time.Sleep(600 * time.Millisecond)
	if n := logs.FilterMessageSnippet("stalled").FilterLevelExact(zap.WarnLevel).Len(); n != 1 {
		t.Fatalf("%d warnings about the stall, want 1", n)
	}

	close(src.resume)
	waitUntil(t, "streaming again", func() bool { return sup.Status().State == Streaming })
	if st := sup.Status(); st.Error != "" {
		t.Fatalf("error %q kept after frames came back", st.Error)
	}
	time.Sleep(500 * time.Millisecond)
	if st := sup.Status(); st.State != Streaming {
		t.Fatalf("state %s while frames arrive", st.State)
	}
}

// A source at a low rate is not stalled between two of its frames: the
// limit is at least three frame intervals.
func TestSupervisorStallLimitFollowsTheFrameRate(t *testing.T) {
	src := &slowSource{fps: 2}
	sup := NewSupervisor(src, &collector{}, fakePlaceholder, zap.NewNop())
	sup.StallAfter = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sup.Run(ctx)
	waitUntil(t, "streaming", func() bool { return sup.Status().State == Streaming })
	for range 30 {
		if st := sup.Status(); st.State != Streaming {
			t.Fatalf("a 2 fps source is %s between frames: %s", st.State, st.Error)
		}
		time.Sleep(50 * time.Millisecond)
	}
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
	core, logs := observer.New(zap.DebugLevel)
	sup := NewSupervisor(skippingSource{passes: 500}, &collector{}, fakePlaceholder, zap.New(core))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go sup.Run(ctx)
	warnings := func() []observer.LoggedEntry {
		return logs.FilterMessageSnippet("skipped").FilterLevelExact(zap.WarnLevel).AllUntimed()
	}
	waitUntil(t, "two warnings", func() bool { return len(warnings()) >= 2 })
	time.Sleep(100 * time.Millisecond)
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
	waitUntil(t, "the new source's warnings", func() bool { return len(warnings()) == 4 })
}
