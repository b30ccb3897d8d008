package sourcetest

import (
	"context"
	"testing"
	"time"

	"usbstream/internal/source"
)

// RunFrames runs a self-paced source on clock until it has published n
// frames, then cancels it; it fails the test if Run returns early, returns
// an error after the cancel, or publishes a different number of frames.
func RunFrames(t testing.TB, run func(context.Context, source.Sink) error, clock *ManualClock, n int) *Recorder {
	t.Helper()
	rec := &Recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, rec) }()
	// The first frame needs no tick; each unbuffered send returns once the
	// previous frame has been handed to the sink.
	for range n - 1 {
		select {
		case clock.Ticks <- time.Time{}:
		case err := <-done:
			t.Fatalf("Run returned early after %d frames: %v", rec.Count(), err)
		case <-time.After(10 * time.Second):
			// A source stuck in a read or an open takes no tick; without
			// this the test would hang instead of failing.
			t.Fatalf("Run took no tick for 10 s after %d frames", rec.Count())
		}
	}
	// The last frame is made after the last tick: wait for it before
	// cancelling, as a source does not publish a frame made after a cancel.
	rec.WaitFrames(t, n)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
	if got := rec.Count(); got != n {
		t.Fatalf("got %d frames, want %d", got, n)
	}
	return rec
}

// RunUntil runs a source on its real clock until it has published n frames,
// then cancels it and requires Run to return nil. The deadlines only catch a
// hang; they do not measure speed.
func RunUntil(t testing.TB, run func(context.Context, source.Sink) error, n int) *Recorder {
	t.Helper()
	rec := &Recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, rec) }()
	rec.WaitFrames(t, n)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	return rec
}
