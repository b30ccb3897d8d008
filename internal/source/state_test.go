package source

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"usbstream/internal/frame"
)

// stepSource does what its script's current step says on each Run: fail
// with err, or report drops and deliver one frame, then wait for the end.
type stepSource struct {
	mu   sync.Mutex
	step sourceStep
}

type sourceStep struct {
	err         error
	dropped     int      // sink.Dropped calls
	driverDrops []uint64 // sink.DriverDropped calls
}

func (s *stepSource) set(st sourceStep) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.step = st
}

func (s *stepSource) Info() Info { return Info{Kind: "camera", Device: "/dev/video0"} }

func (s *stepSource) Run(ctx context.Context, sink Sink) error {
	s.mu.Lock()
	st := s.step
	s.mu.Unlock()
	if st.err != nil {
		return st.err
	}
	for range st.dropped {
		sink.Dropped(errors.New("truncated JPEG"))
	}
	for _, n := range st.driverDrops {
		sink.DriverDropped(n)
	}
	sink.Frame(&frame.Frame{JPEG: []byte{0xff, 0xd8, 0xff, 0xd9}, Captured: time.Now(), Width: 32, Height: 24})
	<-ctx.Done()
	return nil
}

type discardFrames struct{}

func (discardFrames) Publish(*frame.Frame) {}

func blankPlaceholder(int, int, string, string, time.Time) ([]byte, error) {
	return []byte{0xff, 0xd8, 0xff, 0xd9}, nil
}

// superviseSteps runs a supervisor over src inside the synctest bubble and
// stops it when the test ends.
func superviseSteps(t *testing.T, src Source, log *zap.Logger) *Supervisor {
	sup := NewSupervisor(src, discardFrames{}, blankPlaceholder, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sup.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return sup
}

// Waiting is a value the supervisor sets from errors.Is(err, ErrAbsent),
// never read back from the error's text: an absent source whose message
// says nothing of waiting is waiting, and a failure whose message happens
// to start "waiting for camera" is not.
func TestWaitingComesFromErrAbsentNotFromTheMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &stepSource{}
		src.set(sourceStep{err: Absent(errors.New("no camera found"))})
		sup := superviseSteps(t, src, zap.NewNop())
		synctest.Wait()
		if st := sup.Status(); st.State != Lost || !st.Waiting || st.Error != "no camera found" {
			t.Fatalf("absent source: state %s waiting %v error %q, want lost, waiting, the error's own text", st.State, st.Waiting, st.Error)
		}

		src.set(sourceStep{err: errors.New("waiting for camera: VIDIOC_STREAMON: device or resource busy")})
		time.Sleep(time.Second) // the longest pause between retries
		synctest.Wait()
		if st := sup.Status(); st.State != Lost || st.Waiting {
			t.Fatalf("failing source: state %s waiting %v (error %q), want lost and not waiting", st.State, st.Waiting, st.Error)
		}

		src.set(sourceStep{})
		time.Sleep(time.Second)
		synctest.Wait()
		if st := sup.Status(); st.State != Streaming || st.Waiting || st.Error != "" {
			t.Fatalf("streaming source: state %s waiting %v error %q", st.State, st.Waiting, st.Error)
		}
	})
}

// The device's own drops are counted apart from the frames the source could
// not use, add up over the source's runs, appear in the status document as
// driverDrops, and are logged at debug level only (a driver under load skips
// frames many times a second).
func TestDriverDropsAreCountedApartFromOurs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zapcore.DebugLevel)
		src := &stepSource{}
		src.set(sourceStep{dropped: 1, driverDrops: []uint64{3, 2}})
		sup := superviseSteps(t, src, zap.New(core))
		synctest.Wait()
		if st := sup.Status(); st.FramesDropped != 1 || st.DriverDrops != 5 {
			t.Fatalf("framesDropped %d driverDrops %d, want 1 and 5", st.FramesDropped, st.DriverDrops)
		}

		// The next source (a reload that reopens the camera) adds to the count.
		next := &stepSource{}
		next.set(sourceStep{driverDrops: []uint64{4}})
		sup.Replace(next)
		synctest.Wait()
		st := sup.Status()
		if st.State != Streaming || st.FramesDropped != 1 || st.DriverDrops != 9 {
			t.Fatalf("after the next source: state %s framesDropped %d driverDrops %d, want streaming, 1 and 9", st.State, st.FramesDropped, st.DriverDrops)
		}

		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		if doc["driverDrops"] != 9.0 || doc["framesDropped"] != 1.0 || doc["waiting"] != false {
			t.Fatalf("status document %s: want driverDrops 9, framesDropped 1, waiting false", b)
		}

		var debug int
		for _, e := range logs.FilterMessage("the device dropped frames").All() {
			if e.Level != zapcore.DebugLevel {
				t.Fatalf("device drops logged at %s: %v", e.Level, e.ContextMap())
			}
			debug++
		}
		if debug != 3 {
			t.Fatalf("%d debug lines about device drops, want one per report (3)", debug)
		}
	})
}
