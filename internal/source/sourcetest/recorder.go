// Package sourcetest holds test helpers for sources.
package sourcetest

import (
	"sync"
	"testing"
	"time"

	"usbstream/internal/frame"
)

// Recorder is a source.Sink that keeps everything it is given.
type Recorder struct {
	mu      sync.Mutex
	frames  []*frame.Frame
	dropped []error
	idle    int
	skipped []Skip
	// driverDropped adds up DriverDropped's counts.
	driverDropped uint64
}

// Frame records f.
func (r *Recorder) Frame(f *frame.Frame) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, f)
}

// Dropped records a dropped frame's reason.
func (r *Recorder) Dropped(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropped = append(r.dropped, err)
}

// Idle records an unencoded frame.
func (r *Recorder) Idle(time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.idle++
}

// IdleCount returns how many unencoded frames were reported.
func (r *Recorder) IdleCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.idle
}

// WaitIdle waits until n idle ticks were counted, failing the test after
// 5 s: a source reports a tick's idleness after the tick was taken.
func (r *Recorder) WaitIdle(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for r.IdleCount() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle ticks after 5 s, want %d", r.IdleCount(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Frames returns the frames recorded so far.
func (r *Recorder) Frames() []*frame.Frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*frame.Frame(nil), r.frames...)
}

// Drops returns the drop reasons recorded so far.
func (r *Recorder) Drops() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.dropped...)
}

// Count returns how many frames were recorded.
func (r *Recorder) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.frames)
}

// WaitFrames waits until n frames were recorded, failing the test after
// 10 s (a hang, not a speed check).
func (r *Recorder) WaitFrames(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.Count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d frames, want %d", r.Count(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Skip is an input a source reported skipped.
type Skip struct {
	Name   string
	Reason error
}

// Skipped records a skipped input.
func (r *Recorder) Skipped(name string, reason error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.skipped = append(r.skipped, Skip{name, reason})
}

// Skips returns the skipped inputs recorded so far, repeats included.
func (r *Recorder) Skips() []Skip {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Skip(nil), r.skipped...)
}

// DriverDropped adds n frames the device skipped.
func (r *Recorder) DriverDropped(n uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.driverDropped += n
}

// DriverDrops returns the frames the device skipped so far.
func (r *Recorder) DriverDrops() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.driverDropped
}
