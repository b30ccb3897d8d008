// Package source defines what produces frames (a camera, the test pattern,
// a file replay) and the supervisor that keeps one running: it restarts a
// failed source, publishes a placeholder while it is down, and measures it.
package source

import (
	"context"
	"errors"
	"time"

	"usbstream/internal/frame"
)

// Source produces JPEG frames. Implementations: internal/source/testpattern,
// internal/source/filereplay and (V4L2) internal/camera.
type Source interface {
	// Info describes the source and what it currently delivers. It may change
	// once Run has negotiated a format with a device.
	Info() Info
	// Run captures until ctx is cancelled (then it returns nil) or the source
	// fails (then it returns the reason, and the supervisor retries later).
	// Run calls sink from a single goroutine, frames in capture order. Every
	// frame passed to sink.Frame is handed over: the source must not touch
	// it, or its JPEG bytes, again.
	Run(ctx context.Context, sink Sink) error
}

// Sink receives what a running source produces.
type Sink interface {
	// Frame publishes a captured frame. It never blocks for long.
	Frame(f *frame.Frame)
	// Dropped counts a frame the source captured but could not use (truncated
	// JPEG, decode error, ...). reason is logged at debug level.
	Dropped(reason error)
	// Idle counts a frame the camera delivered that was not encoded because
	// nobody wants frames now: the source is healthy, just unwatched.
	Idle(captured time.Time)
	// DriverDropped counts n frames the device captured but never handed
	// over (a V4L2 driver's gaps in buffer sequence numbers, when it found
	// no free buffer or lost the frame on the bus): drops on the device's
	// side, apart from the ones Dropped counts. Called as gaps are seen.
	DriverDropped(n uint64)
	// Skipped reports an input the source passes over and goes on without,
	// such as a file of a replayed folder that is a FIFO or a device. It
	// comes up again on every pass over the folder; the supervisor warns
	// once per name and reason, so the user hears of it without a line per
	// frame.
	Skipped(name string, reason error)
}

// Info is a source's self-description. JSON names are part of the status
// document that /status, DSF plugin data and the DWC tab share.
type Info struct {
	// Kind is "test", "file" or "camera".
	Kind string `json:"kind"`
	// Device is what the source reads: a device path, a file or folder, or
	// "test pattern".
	Device string `json:"device"`
	// Name is a human-readable name (the camera's card name), if any.
	Name string `json:"name,omitempty"`
	// Format is the pixel format delivered by the device ("MJPG", "YUYV",
	// "JPEG" for generated or replayed JPEG files).
	Format string `json:"format"`
	// Width and Height are the frame size in pixels, 0 while unknown.
	Width  int `json:"width"`
	Height int `json:"height"`
	// FPS is the frame rate the source aims for.
	FPS float64 `json:"targetFps"`
	// Requested is what the configuration asked of a device, which the
	// fields above may differ from; Notes say why.
	Requested *Request `json:"requested,omitempty"`
	Notes     []string `json:"notes,omitempty"`
	// Modes lists what the device can deliver; empty for generated sources.
	Modes []Mode `json:"modes,omitempty"`
}

// Request is a configuration's wish; zero fields mean "the default rule".
type Request struct {
	Format string  `json:"format"`
	Width  int     `json:"width"`
	Height int     `json:"height"`
	FPS    float64 `json:"fps"`
}

// Mode is one format and size a device supports, with its frame rates.
type Mode struct {
	Format string    `json:"format"`
	Width  int       `json:"width"`
	Height int       `json:"height"`
	FPS    []float64 `json:"fps,omitempty"`
}

// State is where a supervised source is in its life.
type State string

const (
	// Starting: opening the device, no frame yet.
	Starting State = "starting"
	// Streaming: frames are arriving.
	Streaming State = "streaming"
	// Stalled: the source runs and claims nothing is wrong, but no frame has
	// come for a while (a read that blocks, a device that stopped sending);
	// a placeholder says so until frames come again or the source fails.
	Stalled State = "stalled"
	// Lost: the source failed or is absent; a placeholder is served and the
	// source is retried.
	Lost State = "lost"
	// Stopped: the process is shutting down.
	Stopped State = "stopped"
)

// ErrAbsent marks a Run error that means "not there yet" (no camera
// plugged in) rather than a failure: the supervisor waits for the source
// without warning about it.
var ErrAbsent = errors.New("source absent")

// Absent wraps err so that errors.Is(err, ErrAbsent) holds; the message is
// err's own.
func Absent(err error) error { return absentError{err} }

type absentError struct{ err error }

func (e absentError) Error() string        { return e.err.Error() }
func (e absentError) Unwrap() error        { return e.err }
func (e absentError) Is(target error) bool { return target == ErrAbsent }
