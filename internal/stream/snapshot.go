package stream

import (
	"context"
	"fmt"
	"time"

	"usbstream/internal/frame"
)

// DefaultSnapshotWait is how long a snapshot waits for a frame newer than
// requested before answering with a placeholder: below wget's 10 s timeout
// in DuetLapse3.
const DefaultSnapshotWait = 5 * time.Second

// snapshotFresh is how old the latest frame may be for a snapshot without
// MaxDelay to get it at once.
const snapshotFresh = 2 * time.Second

// staleWait bounds how long a snapshot without MaxDelay waits for a fresher
// frame than a stale latest one.
const staleWait = time.Second

// SnapshotPolicy says which frame a snapshot gets, the same whichever door
// it came through (/snapshot, or DWC's through DSF).
type SnapshotPolicy struct {
	// MaxDelay is how long before the request the frame may have been
	// captured (0: a frame captured after the request); no placeholder
	// qualifies. Negative: any recent frame, placeholders included.
	MaxDelay time.Duration
	// Wait bounds how long a snapshot waits for such a frame; 0 means
	// DefaultSnapshotWait.
	Wait time.Duration
	// Placeholder renders the frame returned when none can be had.
	Placeholder func(reason string) *frame.Frame
}

// Snapshot returns the frame a snapshot gets under p: one captured at most
// p.MaxDelay before now (waiting up to p.Wait for it), or with a negative
// MaxDelay any recent frame. It returns a placeholder frame when none can be
// had, and an error only when ctx ends first. The caller registers itself
// as a client while it waits, so that a source that skips work while nobody
// watches produces a frame.
func (h *Hub) Snapshot(ctx context.Context, p SnapshotPolicy) (*frame.Frame, error) {
	requested := time.Now()
	if p.Wait <= 0 {
		p.Wait = DefaultSnapshotWait
	}
	// Without MaxDelay any recent frame will do; an older one (a source
	// that skips encoding while nobody watches) is worth waiting for.
	accept := func(f *frame.Frame) bool { return requested.Sub(f.Captured) <= snapshotFresh }
	strict := p.MaxDelay >= 0
	wait := p.Wait
	if strict {
		since := requested.Add(-p.MaxDelay)
		accept = func(f *frame.Frame) bool { return !f.Placeholder && !f.Captured.Before(since) }
	} else {
		// A stale frame is returned after a short wait rather than none:
		// a source that skips work while idle resumes within a frame, and a
		// slow camera should not make every snapshot wait.
		wait = min(wait, staleWait)
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	f, err := h.waitFor(wctx, accept)
	cancel()
	if err == nil {
		return f, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if latest, _ := h.Latest(); latest != nil && !strict {
		return latest, nil
	}
	f = p.Placeholder(fmt.Sprintf("no fresh frame within %s", p.Wait))
	f.Placeholder = true
	return f, nil
}

// waitFor returns the first frame for which accept returns true, checking the
// latest frame first and then every frame published until ctx ends. Frames
// published and superseded while the caller was not looking are not seen:
// the hub keeps only the newest.
func (h *Hub) waitFor(ctx context.Context, accept func(*frame.Frame) bool) (*frame.Frame, error) {
	for {
		f, newer := h.Latest()
		if f != nil && accept(f) {
			return f, nil
		}
		select {
		case <-newer:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
