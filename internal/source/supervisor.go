package source

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"usbstream/internal/frame"
	"usbstream/internal/meter"
)

// Publisher receives every frame the supervisor lets through: the hub.
type Publisher interface {
	Publish(f *frame.Frame)
}

// PlaceholderFunc renders the "camera offline" JPEG.
type PlaceholderFunc func(width, height int, title, reason string, now time.Time) ([]byte, error)

// Supervisor keeps a Source running for the life of the process: it restarts
// it after a failure, publishes a placeholder frame about once a second while
// no real frame arrives, and measures what the source delivers. Clients
// outlive the source: they keep their connections while it is down.
type Supervisor struct {
	src         Source
	out         Publisher
	placeholder PlaceholderFunc
	log         *zap.Logger

	// RetryInterval caps the pause between a failure and the next attempt;
	// one second, like ustreamer, so a replugged camera is back quickly.
	// The first retry after a source that was delivering comes sooner
	// (FirstRetry) and the pause doubles from there: an unplugged camera
	// is often back at once, and a miss costs only a short wait.
	RetryInterval time.Duration
	FirstRetry    time.Duration
	// StartGrace is how long a starting source may take before clients are
	// shown a placeholder instead of waiting.
	StartGrace time.Duration
	// DropReportInterval is the least time between two warnings about
	// dropped frames: a camera sending corrupt buffers or a replayed file
	// with an oversized frame is worth telling about, but not per frame.
	DropReportInterval time.Duration
	// StallAfter is how long a streaming source may go without a frame
	// before it is reported stalled (at least three frame intervals at its
	// target rate). A source blocked in a read never fails by itself, and
	// without this /status would go on saying "streaming" over a frozen
	// picture.
	StallAfter time.Duration
	// SizeHint gives the size the stream is expected to have before the
	// source has said (the configuration's requested size, rotated), or
	// zeros. Placeholders take it so that a consumer connecting before the
	// camera, which keeps the first part's size for good (OpenCV, an
	// ffmpeg recording), gets the camera's size.
	SizeHint func() (width, height int)

	kick chan struct{} // Replace wakes a retry wait

	mu        sync.Mutex
	cancelRun context.CancelFunc
	state     State
	lastErr   error
	since     time.Time
	lastFrame time.Time
	lastSize  [2]int
	// published is the size of the last part clients got, placeholder or
	// frame; a different next one is a size change /status reports.
	published   [2]int
	sizeChanges uint64
	sizeChange  *SizeChange
	captured    uint64
	dropped     uint64
	// driverDropped counts the frames the device itself skipped
	// (Sink.DriverDropped), over every run of every source, like dropped.
	driverDropped uint64
	rate          meter.Rate

	unreportedDrops uint64
	lastDropReason  error
	lastDropReport  time.Time

	// skipWarned holds the inputs (name and reason) already warned about,
	// so that a FIFO in a replayed folder is one warning, not one per pass.
	skipWarned map[string]bool
}

// maxSkipWarned bounds skipWarned: a folder of thousands of odd files
// gets that many warnings, then debug lines.
const maxSkipWarned = 1000

// Status is the supervisor's view of its source, shared by /status, DSF
// plugin data and the DWC tab.
type Status struct {
	Info
	State State `json:"state"`
	// Waiting: the source is lost because it is not there yet (its Run
	// error is ErrAbsent: no camera plugged in), not because it failed.
	// Error still says what it waits for, for people; programs read this.
	Waiting        bool      `json:"waiting"`
	Error          string    `json:"error,omitempty"`
	Since          time.Time `json:"since"`
	MeasuredFPS    float64   `json:"measuredFps"`
	FramesCaptured uint64    `json:"framesCaptured"`
	// FramesDropped counts frames the source got but could not use;
	// DriverDrops those the device captured and never handed over.
	FramesDropped uint64     `json:"framesDropped"`
	DriverDrops   uint64     `json:"driverDrops"`
	LastFrameAt   *time.Time `json:"lastFrameAt,omitempty"`
	// SizeChanges counts the times the stream's picture size changed after
	// its first part; a consumer that keeps the first size (OpenCV, an
	// ffmpeg recording) must reconnect after one.
	SizeChanges    uint64      `json:"sizeChanges"`
	LastSizeChange *SizeChange `json:"lastSizeChange,omitempty"`
}

// SizeChange is one change of the stream's picture size.
type SizeChange struct {
	From string    `json:"from"` // "640x480"
	To   string    `json:"to"`
	At   time.Time `json:"at"`
}

// NewSupervisor returns a supervisor for src that publishes to out.
func NewSupervisor(src Source, out Publisher, placeholder PlaceholderFunc, log *zap.Logger) *Supervisor {
	return &Supervisor{
		src: src, out: out, placeholder: placeholder, log: log,
		RetryInterval:      time.Second,
		FirstRetry:         250 * time.Millisecond,
		StartGrace:         time.Second,
		DropReportInterval: time.Minute,
		StallAfter:         5 * time.Second,
		kick:               make(chan struct{}, 1),
		state:              Starting,
		since:              time.Now(),
	}
}

// Run runs the source until ctx ends, restarting it whenever it fails.
func (s *Supervisor) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.placeholders(ctx)
	}()
	defer func() {
		<-done
		s.setState(Stopped, nil)
	}()

	// The state stays Lost across retries (not Starting each time), so an
	// absent camera is one warning, not one per attempt.
	delay := min(s.FirstRetry, s.RetryInterval)
	var prev Source
	for ctx.Err() == nil {
		s.mu.Lock()
		src := s.src
		if src != prev {
			// Cleared here, not in Replace, so that the old source's last
			// reports, made while it stops, do not silence the new one's.
			s.skipWarned, prev = nil, src
		}
		runCtx, cancel := context.WithCancel(ctx)
		s.cancelRun = cancel
		framesBefore := s.captured
		s.mu.Unlock()
		err := src.Run(runCtx, sink{s})
		cancel()
		s.reportDrops(time.Now(), true)
		if ctx.Err() != nil {
			return
		}
		if s.source() != src {
			s.setState(Starting, nil)
			continue // replaced: start the new source at once
		}
		if err == nil {
			err = errors.New("source stopped without an error")
		}
		s.setState(Lost, err)
		s.mu.Lock()
		delivered := s.captured != framesBefore
		s.mu.Unlock()
		if delivered {
			delay = min(s.FirstRetry, s.RetryInterval)
		}
		select {
		case <-time.After(delay):
		case <-s.kick:
		case <-ctx.Done():
		}
		delay = min(2*delay, s.RetryInterval)
	}
}

// Replace stops the running source and starts src in its place (a changed
// configuration). Clients stay connected; they get a placeholder if src
// takes longer than StartGrace to deliver.
func (s *Supervisor) Replace(src Source) {
	s.mu.Lock()
	s.src = src
	if s.cancelRun != nil {
		s.cancelRun()
	}
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Source returns the source being run.
func (s *Supervisor) source() Source {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.src
}

// placeholders publishes a placeholder once a second while the source is
// lost, or still starting after StartGrace, so that clients see why there is
// no picture and keep receiving data.
func (s *Supervisor) placeholders(ctx context.Context) {
	tick := time.NewTicker(placeholderTick)
	defer tick.Stop()
	var lastPublished time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			s.reportDrops(now, false)
			s.checkStall(now)
			s.mu.Lock()
			state, err, since, size := s.state, s.lastErr, s.since, s.lastSize
			s.mu.Unlock()
			show := state == Lost || state == Stalled || (state == Starting && now.Sub(since) >= s.StartGrace)
			// Once a second during an outage, but at once when a new one
			// begins: a short outage soon after another must still show. A
			// stall begins at the tick that sees it, so an outage that
			// began when the last placeholder was published is not new.
			if !show || (!refreshDue(now, lastPublished) && !since.After(lastPublished)) {
				continue
			}
			title, reason := "CAMERA OFFLINE", "no frames yet"
			switch {
			case state == Starting:
				title = "CAMERA STARTING"
			case state == Stalled:
				title = "NO FRAMES"
			case errors.Is(err, ErrMisconfigured):
				title = "CONFIGURATION ERROR"
			}
			if err != nil {
				reason = err.Error()
			}
			f := s.renderPlaceholder(size, title, reason, now)
			if f == nil {
				continue
			}
			// Publish only if the outage is still the one rendered: a camera
			// frame that arrived meanwhile must not be followed by an
			// "offline" picture. Frames mark the state under the same lock.
			s.mu.Lock()
			var change *SizeChange
			if s.state == state && s.since.Equal(since) {
				change = s.notePublishedLocked(f.Width, f.Height, now)
				s.out.Publish(f)
				lastPublished = now
			}
			s.mu.Unlock()
			s.logSizeChange(change)
		}
	}
}

// placeholderTick is how often the placeholder goroutine looks at the state.
const placeholderTick = time.Second / 4

// refreshDue says whether the placeholder published at last is due again at
// tick now. Half a tick of slack: the runtime's ticks jitter by
// microseconds, so four of them come a hair under a second apart half the
// time, and a strict comparison made it every 1.25 s.
func refreshDue(now, last time.Time) bool { return now.Sub(last) >= time.Second-placeholderTick/2 }

// checkStall marks a streaming source stalled when its last frame is older
// than StallAfter, or three frame intervals if that is longer, so that a
// slow camera is not called stalled between two of its frames.
func (s *Supervisor) checkStall(now time.Time) {
	limit := s.StallAfter
	if limit <= 0 {
		return
	}
	if fps := s.source().Info().FPS; fps > 0 {
		limit = max(limit, time.Duration(3*float64(time.Second)/fps))
	}
	s.mu.Lock()
	stalled := s.state == Streaming && !s.lastFrame.IsZero() && now.Sub(s.lastFrame) >= limit
	var err error
	if stalled {
		// Set under the lock frames take, so a frame arriving now wins.
		err = fmt.Errorf("no frame since %s (%s); the source has not failed, so it is left running",
			s.lastFrame.Format("15:04:05"), limit)
		s.state, s.lastErr, s.since = Stalled, err, now
	}
	s.mu.Unlock()
	if stalled {
		s.logState(Streaming, Stalled, err)
	}
}

// PlaceholderSize is the size a placeholder has now: what the source
// delivers or negotiated, else what the configuration asks for, else the
// last frame's size, else 640x480.
func (s *Supervisor) PlaceholderSize() (width, height int) {
	s.mu.Lock()
	last := s.lastSize
	s.mu.Unlock()
	return s.placeholderSize(last)
}

func (s *Supervisor) placeholderSize(last [2]int) (int, int) {
	if info := s.source().Info(); info.Width > 0 && info.Height > 0 {
		return info.Width, info.Height
	}
	if s.SizeHint != nil {
		if w, h := s.SizeHint(); w > 0 && h > 0 {
			return w, h
		}
	}
	if last[0] > 0 && last[1] > 0 {
		return last[0], last[1]
	}
	return 640, 480
}

// notePublishedLocked records the size of a part about to be published and
// returns the change it makes, if any. s.mu must be held.
func (s *Supervisor) notePublishedLocked(w, h int, now time.Time) *SizeChange {
	prev := s.published
	s.published = [2]int{w, h}
	if prev == [2]int{} || prev == s.published {
		return nil
	}
	s.sizeChanges++
	s.sizeChange = &SizeChange{From: fmt.Sprintf("%dx%d", prev[0], prev[1]), To: fmt.Sprintf("%dx%d", w, h), At: now}
	return s.sizeChange
}

func (s *Supervisor) logSizeChange(c *SizeChange) {
	if c != nil {
		s.log.Info("the picture size changed; consumers that keep the first size (OpenCV, ffmpeg recordings) must reconnect",
			zap.String("from", c.From), zap.String("to", c.To))
	}
}

func (s *Supervisor) renderPlaceholder(last [2]int, title, reason string, now time.Time) *frame.Frame {
	w, h := s.placeholderSize(last)
	jpg, err := s.placeholder(w, h, title, reason, now)
	if err != nil {
		s.log.Error("cannot render the placeholder frame", zap.Error(err))
		return nil
	}
	return &frame.Frame{JPEG: jpg, Captured: now, Width: w, Height: h, Placeholder: true}
}

func (s *Supervisor) setState(state State, err error) {
	s.mu.Lock()
	prev, prevErr := s.state, s.lastErr
	changed := prev != state || errString(prevErr) != errString(err)
	if changed {
		s.state, s.lastErr, s.since = state, err, time.Now()
	}
	s.mu.Unlock()
	if changed {
		s.logState(prev, state, err)
	}
}

// logState tells the user about a state change, at a level that fits it.
func (s *Supervisor) logState(prev, state State, err error) {
	info := s.source().Info()
	switch {
	case state == Lost && errors.Is(err, ErrMisconfigured):
		s.log.Debug("no source until the configuration is mended", zap.Error(err))
	case state == Lost && prev == Lost:
		// The same outage with a new reason: worth a line, not a warning.
		s.log.Info("source still unavailable", zap.String("device", info.Device), zap.Error(err))
	case state == Lost && errors.Is(err, ErrAbsent):
		s.log.Info("waiting for the source; serving a placeholder meanwhile", zap.String("device", info.Device), zap.Error(err))
	case state == Lost:
		s.log.Warn("source lost; serving a placeholder and retrying, at least every "+s.RetryInterval.String(),
			zap.String("device", info.Device), zap.Error(err))
	case state == Stalled:
		s.log.Warn("source stalled; serving a placeholder until frames come again",
			zap.String("device", info.Device), zap.Error(err))
	case state == Streaming:
		s.log.Info("streaming", zap.String("kind", info.Kind), zap.String("device", info.Device),
			zap.String("format", info.Format), zap.Int("width", info.Width), zap.Int("height", info.Height),
			zap.Float64("targetFps", info.FPS))
	default:
		s.log.Debug("source state", zap.String("state", string(state)), zap.String("device", info.Device))
	}
}

// Status returns what the source is doing now.
func (s *Supervisor) Status() Status {
	now := time.Now()
	st := Status{Info: s.source().Info(), MeasuredFPS: s.rate.PerSecond(now)}
	s.mu.Lock()
	defer s.mu.Unlock()
	st.State, st.Since = s.state, s.since
	st.Waiting = s.state == Lost && errors.Is(s.lastErr, ErrAbsent)
	if s.lastErr != nil {
		st.Error = s.lastErr.Error()
	}
	st.FramesCaptured, st.FramesDropped, st.DriverDrops = s.captured, s.dropped, s.driverDropped
	if !s.lastFrame.IsZero() {
		t := s.lastFrame
		st.LastFrameAt = &t
	}
	st.SizeChanges = s.sizeChanges
	if s.sizeChange != nil {
		c := *s.sizeChange
		st.LastSizeChange = &c
	}
	return st
}

// sink is what the running source writes into.
type sink struct{ s *Supervisor }

func (k sink) Frame(f *frame.Frame) {
	k.captured(f.Width, f.Height)
	k.s.out.Publish(f)
}

// Idle: the source is streaming even though it publishes nothing, so that
// /status does not call an unwatched camera lost.
func (k sink) Idle(time.Time) { k.captured(0, 0) }

func (k sink) captured(w, h int) {
	s := k.s
	now := time.Now()
	s.rate.Tick(now)
	s.mu.Lock()
	s.captured++
	s.lastFrame = now
	var change *SizeChange
	if w > 0 && h > 0 {
		s.lastSize = [2]int{w, h}
		change = s.notePublishedLocked(w, h, now)
	}
	prev := s.state
	if prev != Streaming {
		// Set here, under the lock the placeholder goroutine checks, so no
		// placeholder is published after this frame.
		s.state, s.lastErr, s.since = Streaming, nil, now
	}
	s.mu.Unlock()
	if prev != Streaming {
		s.logState(prev, Streaming, nil)
	}
	s.logSizeChange(change)
}

// Skipped warns once per input and reason for as long as the source is
// the same; the input comes up again on every pass, and a warning per pass
// would be one per frame.
func (k sink) Skipped(name string, reason error) {
	s := k.s
	key := name + "\x00" + errString(reason)
	s.mu.Lock()
	seen := s.skipWarned[key]
	full := len(s.skipWarned) >= maxSkipWarned
	if !seen && !full {
		if s.skipWarned == nil {
			s.skipWarned = make(map[string]bool)
		}
		s.skipWarned[key] = true
	}
	s.mu.Unlock()
	switch {
	case seen:
	case full:
		s.log.Debug("input skipped", zap.String("input", name), zap.Error(reason))
	default:
		s.log.Warn("input skipped; the source goes on without it", zap.String("device", s.source().Info().Device),
			zap.String("input", name), zap.Error(reason))
	}
}

func (k sink) Dropped(reason error) {
	s := k.s
	s.mu.Lock()
	s.dropped++
	s.unreportedDrops++
	s.lastDropReason = reason
	s.mu.Unlock()
	if !s.reportDrops(time.Now(), false) {
		s.log.Debug("frame dropped", zap.Error(reason))
	}
}

// DriverDropped is logged at debug level only: a driver that skips frames
// under load does it many times a second, and /status has the count.
func (k sink) DriverDropped(n uint64) {
	s := k.s
	s.mu.Lock()
	s.driverDropped += n
	total := s.driverDropped
	s.mu.Unlock()
	s.log.Debug("the device dropped frames", zap.Uint64("frames", n), zap.Uint64("total", total))
}

// reportDrops warns about the drops not yet reported, if there are any and
// the last warning is DropReportInterval old (or force: the source is
// ending, and its drops must not be counted with the next one's). The
// placeholder ticker calls it too, so that the end of a burst is reported
// without waiting for another drop.
func (s *Supervisor) reportDrops(now time.Time, force bool) bool {
	s.mu.Lock()
	n, reason := s.unreportedDrops, s.lastDropReason
	due := n > 0 && (force || s.lastDropReport.IsZero() || now.Sub(s.lastDropReport) >= s.DropReportInterval)
	if due {
		s.unreportedDrops, s.lastDropReport = 0, now
	}
	s.mu.Unlock()
	if due {
		s.log.Warn("frames dropped", zap.Uint64("sinceLastReport", n), zap.Error(reason),
			zap.Duration("nextReportAfter", s.DropReportInterval))
	}
	return due
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
