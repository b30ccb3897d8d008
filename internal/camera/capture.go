package camera

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"usbstream/internal/jpeg"
	"usbstream/internal/source"
)

// Options configure a camera source.
type Options struct {
	// Spec selects the camera, as -camera does (see Select).
	Spec    string
	Request Request
	// Transform rotates and flips every frame.
	Transform jpeg.Transform
	// Quality is the JPEG quality for frames usbStream encodes.
	Quality int
	// Controls are set after every open, in order, after the exposure
	// settings derived from ManExp and Exposure (the original's options).
	Controls         []ControlSetting
	ManExp, Exposure *float64
	// Demand reports whether anyone may want frames now; while it is false
	// no frame is encoded, decoded or turned (the camera keeps streaming, so
	// the sensor stays exposed correctly for the next viewer, and MJPEG
	// frames that need no work still pass). Nil means always.
	Demand func() bool
}

// buffers is the mmap queue depth: enough that the driver never waits for
// us, few enough that a dequeued frame is at most a frame old.
const buffers = 3

// frameTimeout is how long a silent camera is given before it counts as
// lost; cameras deliver at least a few frames per second.
const frameTimeout = 2 * time.Second

// firstFrameTimeout is how long a newly opened format may take to deliver
// its first usable frame (auto exposure settles first on some cameras)
// before the next format is tried.
const firstFrameTimeout = 5 * time.Second

// deliveryError: the camera accepted a format but delivered nothing usable.
type deliveryError struct {
	format string
	wait   time.Duration
	err    error // the driver's refusal, if it refused outright
}

func (e *deliveryError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("the camera lists %s but refused it: %v", e.format, e.err)
	}
	return fmt.Sprintf("the camera lists %s but delivered no usable frame in %s", e.format, e.wait)
}

func (e *deliveryError) Unwrap() error { return e.err }

// Source captures frames from a V4L2 camera. It implements source.Source.
type Source struct {
	opt Options
	log *zap.Logger

	mu   sync.Mutex
	info source.Info
	// opened: info describes a camera opened, not the one looked for.
	opened   bool
	identity *identity // the camera found first, reopened after an unplug
	choice   Choice
	notes    string
	warned   map[string]bool
	// failedFormats are formats this camera listed but did not deliver;
	// negotiation passes over them.
	failedFormats map[string]bool

	live atomic.Pointer[Live]
}

// Live are the settings a running camera picks up without being reopened
// (a config reload): clients see the change on the next frame.
type Live struct {
	Transform jpeg.Transform
	Quality   int
	// FPS caps the frames served; it can only lower the rate the camera was
	// opened with (raising it needs a reopen, see OpenedFPS).
	FPS float64
}

// SetLive changes the live settings.
func (s *Source) SetLive(l Live) {
	if l.Quality <= 0 {
		l.Quality = 85
	}
	s.live.Store(&l)
}

// OpenedFPS is the frame rate the driver gave at the last open, 0 if unknown.
func (s *Source) OpenedFPS() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opened {
		return 0
	}
	return s.info.FPS
}

// identity is how a camera is recognised when it comes back, possibly
// under another /dev/videoN.
type identity struct {
	byID          string
	name, busInfo string
}

// New returns a camera source; nothing is opened until Run. Until then
// its Info names no device, only what it waits for.
func New(opt Options, log *zap.Logger) *Source {
	s := &Source{opt: opt, log: log, info: source.Info{Kind: "camera", Device: "waiting for camera",
		FPS: opt.Request.FPS, Requested: opt.Request.status()}}
	s.SetLive(Live{Transform: opt.Transform, Quality: opt.Quality, FPS: opt.Request.FPS})
	return s
}

// Info describes the camera in use, or the one last used.
func (s *Source) Info() source.Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// Run opens the camera and captures until ctx ends or the camera fails.
func (s *Source) Run(ctx context.Context, sink source.Sink) error {
	devices, err := List()
	if err != nil {
		return source.Absent(fmt.Errorf("waiting for camera: %w", err))
	}
	dev, err := s.pick(devices)
	if err != nil {
		if errors.Is(err, ErrNoCamera) {
			return source.Absent(fmt.Errorf("waiting for camera: %w", err))
		}
		return err
	}
	s.mu.Lock()
	avoid := maps.Clone(s.failedFormats)
	s.mu.Unlock()
	choice, err := negotiate(dev, s.opt.Request, avoid)
	if err != nil {
		if len(avoid) > 0 {
			// Every format failed once; the camera may have been busy, so
			// start over from the preferred one.
			s.mu.Lock()
			s.failedFormats = nil
			s.mu.Unlock()
			return fmt.Errorf("%w; trying every format again", err)
		}
		return err
	}
	err = s.capture(ctx, dev, choice, sink)
	if de := (*deliveryError)(nil); errors.As(err, &de) {
		s.mu.Lock()
		if s.failedFormats == nil {
			s.failedFormats = map[string]bool{}
		}
		s.failedFormats[de.format] = true
		s.mu.Unlock()
		s.log.Warn(de.Error()+"; trying the next format", zap.String("device", dev.Path))
	}
	return err
}

// pick finds the camera: the configured one the first time, the same
// physical camera afterwards (by-id link, else name and bus, else the
// configured spec again).
func (s *Source) pick(devices []Device) (Device, error) {
	s.mu.Lock()
	id := s.identity
	s.mu.Unlock()
	if id != nil {
		for _, d := range devices {
			if id.byID != "" && len(d.ByID) > 0 && d.ByID[0] == id.byID {
				return d, nil
			}
		}
		for _, d := range devices {
			if d.Name == id.name && d.BusInfo == id.busInfo {
				return d, nil
			}
		}
		// Never substitute another camera for the one that went away: by
		// index, "-camera 0" would now name a different device.
		return Device{}, source.Absent(fmt.Errorf("waiting for camera %q (%s) to come back", id.name, id.busInfo))
	}
	d, err := Select(devices, s.opt.Spec)
	if err != nil {
		return d, err
	}
	newID := &identity{name: d.Name, busInfo: d.BusInfo}
	if len(d.ByID) > 0 {
		newID.byID = d.ByID[0]
	}
	s.mu.Lock()
	s.identity = newID
	s.mu.Unlock()
	return d, nil
}

func (s *Source) capture(ctx context.Context, dev Device, choice Choice, sink source.Sink) error {
	// One descriptor for every call, closed here and nowhere else: the
	// stream, controls and flips borrow it, and are undone before it closes.
	cam, err := openDevice(dev.Path)
	if err != nil {
		return fmt.Errorf("%s: cannot open: %w", dev.Path, err)
	}
	defer cam.close()
	if err := cam.setFormat(choice.fourcc, choice.Width, choice.Height); err != nil {
		if errors.Is(err, unix.EINVAL) {
			return &deliveryError{format: choice.Format, err: err}
		}
		return fmt.Errorf("%s: cannot set %s %dx%d: %w", dev.Path, choice.Format, choice.Width, choice.Height, err)
	}
	live := s.live.Load()
	if live.FPS > 0 {
		if err := cam.setFrameRate(live.FPS); err != nil {
			s.log.Debug("camera does not accept a frame rate", zap.String("device", dev.Path), zap.Error(err))
		}
	}
	soft, unflip := s.cameraFlip(cam, dev, live.Transform)
	defer func() { unflip() }()
	retransform := func(t jpeg.Transform) jpeg.Transform {
		unflip()
		var soft jpeg.Transform
		soft, unflip = s.cameraFlip(cam, dev, t)
		return soft
	}
	if compressed(choice.Format) && !soft.IsIdentity() && !strings.HasPrefix(jpeg.Implementation(), "libjpeg-turbo") {
		s.warnOnce("slowRotate", "rotating MJPEG frames with the pure-Go JPEG code is slow (decode, rotate and "+
			"encode per frame); release builds use libjpeg-turbo, or let the camera send YUYV")
	}
	restore := s.applyControls(cam, dev)
	defer restore()

	got, err := cam.format()
	if err != nil {
		return fmt.Errorf("%s: %w", dev.Path, err)
	}
	fps, _ := cam.frameRate()
	st, err := startStream(cam.fd, buffers, fps)
	if err != nil {
		return fmt.Errorf("%s: %w", dev.Path, err)
	}
	defer st.close()

	s.publishInfo(dev, choice, got, fps, live.Transform)
	return s.loop(ctx, st, got, soft, retransform, sink)
}

// publishInfo records and logs what was requested and what was obtained.
func (s *Source) publishInfo(dev Device, choice Choice, got pixFormat, fps float64, t jpeg.Transform) {
	w, h := got.Width, got.Height
	if t.SwapsSize() {
		w, h = h, w
	}
	info := source.Info{Kind: "camera", Device: dev.Path, Name: dev.Name, Format: FourCC(got.FourCC),
		Width: w, Height: h, FPS: fps, Requested: s.opt.Request.status(), Notes: choice.Notes}
	if info.FPS <= 0 {
		info.FPS = choice.FPS
	}
	for _, f := range dev.Formats {
		for _, sz := range f.Sizes {
			info.Modes = append(info.Modes, source.Mode{Format: f.FourCC, Width: sz.Width, Height: sz.Height, FPS: sz.FPS})
		}
	}
	notes := strings.Join(choice.Notes, "; ")
	s.mu.Lock()
	s.info, s.choice, s.opened = info, choice, true
	changed := s.notes != notes
	s.notes = notes
	s.mu.Unlock()
	if changed && notes != "" {
		s.log.Warn(notes, zap.String("device", dev.Path))
	}
	s.log.Info("camera opened", zap.String("device", dev.Path), zap.String("name", dev.Name),
		zap.String("requested", fmt.Sprintf("%s %dx%d %.4g fps", s.opt.Request.Format, s.opt.Request.Width, s.opt.Request.Height, s.opt.Request.FPS)),
		zap.String("obtained", fmt.Sprintf("%s %dx%d %.4g fps", FourCC(got.FourCC), got.Width, got.Height, fps)))
}

// reorient updates the published size after a live transform change.
func (s *Source) reorient(got pixFormat, t jpeg.Transform) {
	w, h := got.Width, got.Height
	if t.SwapsSize() {
		w, h = h, w
	}
	s.mu.Lock()
	s.info.Width, s.info.Height = w, h
	s.mu.Unlock()
	s.log.Info("new rotation and flip applied", zap.Int("rotate", t.Rotate), zap.Bool("flipH", t.FlipH), zap.Bool("flipV", t.FlipV))
}

// compressed reports whether frames in format f are JPEGs already.
func compressed(f string) bool { return f == "MJPG" || f == "JPEG" }

// warnOnce logs msg as a warning the first time key comes up.
func (s *Source) warnOnce(key, msg string) {
	s.mu.Lock()
	if s.warned == nil {
		s.warned = map[string]bool{}
	}
	seen := s.warned[key]
	s.warned[key] = true
	s.mu.Unlock()
	if !seen {
		s.log.Warn(msg)
	}
}
