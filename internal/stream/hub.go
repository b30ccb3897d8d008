// Package stream fans frames out from one producer to many readers: the hub
// holds the newest frame, each reader keeps a cursor (the last sequence it
// sent) and skips whatever it missed, so no reader can delay the producer or
// another reader, and no frame is copied or encoded per reader. A snapshot
// takes its frame from the same hub under one policy (Hub.Snapshot), through
// whichever door it came.
package stream

import (
	"sync"
	"sync/atomic"

	"usbstream/internal/frame"
)

// Hub holds the latest published frame and wakes readers when a newer one
// arrives. The zero value is not usable; call NewHub.
type Hub struct {
	publishMu sync.Mutex // serialises publishers; readers never take it
	current   atomic.Pointer[slot]
}

// slot pairs a frame with the channel that is closed when it is superseded.
// Closing a channel wakes every waiting reader at once without the producer
// knowing who they are, which is what keeps Publish O(1) in the reader count.
type slot struct {
	frame *frame.Frame
	newer chan struct{}
}

// NewHub returns a hub with no frame yet.
func NewHub() *Hub {
	h := &Hub{}
	h.current.Store(&slot{newer: make(chan struct{})})
	return h
}

// Publish makes f the latest frame and wakes all readers. It assigns f.Seq;
// after the call f belongs to the hub and must not be modified.
func (h *Hub) Publish(f *frame.Frame) {
	h.publishMu.Lock()
	defer h.publishMu.Unlock()
	old := h.current.Load()
	if old.frame != nil {
		f.Seq = old.frame.Seq + 1
	} else {
		f.Seq = 1
	}
	h.current.Store(&slot{frame: f, newer: make(chan struct{})})
	close(old.newer)
}

// Latest returns the newest frame (nil before the first Publish) and a
// channel that is closed as soon as a newer frame is published.
func (h *Hub) Latest() (*frame.Frame, <-chan struct{}) {
	s := h.current.Load()
	return s.frame, s.newer
}
