package stream

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"usbstream/internal/frame"
)

// The snapshot policy runs on Go's clock (timers, context deadlines), so
// these tests run in a synctest bubble: waits are exact and take no real
// time.

func placeholderFrame(reason string) *frame.Frame {
	return testFrame("placeholder: "+reason, time.Now())
}

// snapshotAfter takes a snapshot under p in a goroutine and returns what it
// got and how long it waited, once it has returned.
func snapshotAfter(t *testing.T, h *Hub, p SnapshotPolicy, during func()) (*frame.Frame, time.Duration) {
	t.Helper()
	type result struct {
		f      *frame.Frame
		err    error
		waited time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		f, err := h.Snapshot(context.Background(), p)
		done <- result{f, err, time.Since(start)}
	}()
	synctest.Wait() // the snapshot is waiting, or has returned
	during()
	r := <-done
	if r.err != nil {
		t.Fatalf("Snapshot: %v", r.err)
	}
	return r.f, r.waited
}

func body(f *frame.Frame) string { return string(f.JPEG[2 : len(f.JPEG)-2]) }

// Without a max delay a recent frame is returned at once.
func TestSnapshotReturnsRecentFrameAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub()
		h.Publish(testFrame("recent", time.Now().Add(-snapshotFresh)))
		f, waited := snapshotAfter(t, h, SnapshotPolicy{MaxDelay: -1, Placeholder: placeholderFrame}, func() {})
		if body(f) != "recent" || waited != 0 {
			t.Fatalf("got %q after %v, want the recent frame at once", body(f), waited)
		}
	})
}

// A stale latest frame (a source that skipped work while nobody watched)
// makes a snapshot without max delay wait for the next one; if none comes
// within staleWait, however long Wait is, the stale frame is still better
// than nothing.
func TestSnapshotOfStaleFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub()
		p := SnapshotPolicy{MaxDelay: -1, Wait: time.Minute, Placeholder: placeholderFrame}
		h.Publish(testFrame("stale", time.Now().Add(-time.Minute)))
		f, waited := snapshotAfter(t, h, p, func() {
			time.Sleep(50 * time.Millisecond)
			h.Publish(testFrame("fresh", time.Now()))
		})
		if body(f) != "fresh" || waited != 50*time.Millisecond {
			t.Fatalf("got %q after %v, want the fresh frame that followed the stale one after 50ms", body(f), waited)
		}

		h.Publish(testFrame("stale again", time.Now().Add(-time.Minute)))
		f, waited = snapshotAfter(t, h, p, func() {})
		if body(f) != "stale again" || f.Placeholder || waited != staleWait {
			t.Fatalf("got %q (placeholder %v) after %v, want the stale frame after %v", body(f), f.Placeholder, waited, staleWait)
		}
	})
}

// A max delay of 0 wants a frame captured after the request: older frames
// and placeholders do not count, and the first real one after it does.
func TestSnapshotMaxDelayWaitsForFreshFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub()
		h.Publish(testFrame("old", time.Now().Add(-time.Second)))
		f, waited := snapshotAfter(t, h, SnapshotPolicy{MaxDelay: 0, Placeholder: placeholderFrame}, func() {
			time.Sleep(100 * time.Millisecond)
			offline := testFrame("offline", time.Now())
			offline.Placeholder = true
			h.Publish(offline)
			time.Sleep(100 * time.Millisecond)
			h.Publish(testFrame("new", time.Now()))
		})
		if body(f) != "new" || waited != 200*time.Millisecond {
			t.Fatalf("got %q after %v, want the first real frame after the request, after 200ms", body(f), waited)
		}

		// A generous delay accepts the frame already there.
		time.Sleep(time.Minute)
		f, waited = snapshotAfter(t, h, SnapshotPolicy{MaxDelay: 61 * time.Second, Placeholder: placeholderFrame}, func() {})
		if body(f) != "new" || waited != 0 {
			t.Fatalf("max delay 61s got %q after %v, want the minute-old frame at once", body(f), waited)
		}
	})
}

// When no frame young enough comes within Wait, the answer is the
// placeholder, marked as one, saying how long it waited; a frame already
// in the hub that is too old is not returned instead.
func TestSnapshotTimesOutWithPlaceholder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub()
		h.Publish(testFrame("old", time.Now().Add(-time.Minute)))
		var reasons []string
		render := func(reason string) *frame.Frame {
			reasons = append(reasons, reason)
			return testFrame("rendered", time.Now()) // not marked: Snapshot marks it
		}
		for _, tc := range []struct {
			wait, want time.Duration
		}{{0, DefaultSnapshotWait}, {150 * time.Millisecond, 150 * time.Millisecond}} {
			reasons = nil
			f, waited := snapshotAfter(t, h, SnapshotPolicy{MaxDelay: time.Second, Wait: tc.wait, Placeholder: render}, func() {})
			if body(f) != "rendered" || !f.Placeholder || waited != tc.want {
				t.Fatalf("Wait %v: got %q (placeholder %v) after %v, want the placeholder after %v", tc.wait, body(f), f.Placeholder, waited, tc.want)
			}
			if len(reasons) != 1 || !strings.Contains(reasons[0], tc.want.String()) {
				t.Fatalf("Wait %v: placeholder reasons %q, want one naming %v", tc.wait, reasons, tc.want)
			}
		}

		// With no frame at all, a snapshot without max delay gets the
		// placeholder too, after the short wait.
		f, waited := snapshotAfter(t, NewHub(), SnapshotPolicy{MaxDelay: -1, Placeholder: render}, func() {})
		if !f.Placeholder || waited != staleWait {
			t.Fatalf("empty hub: got %q (placeholder %v) after %v, want the placeholder after %v", body(f), f.Placeholder, waited, staleWait)
		}
	})
}

// A snapshot whose caller goes away (client gone, shutdown) returns the
// context's error at once, not a placeholder the caller would send.
func TestSnapshotEndsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		f, err := h.Snapshot(ctx, SnapshotPolicy{MaxDelay: 0, Placeholder: placeholderFrame})
		if !errors.Is(err, context.Canceled) || f != nil || time.Since(start) != 100*time.Millisecond {
			t.Fatalf("got %v, %v after %v; want context.Canceled after 100ms", f, err, time.Since(start))
		}
	})
}
