package camera

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blackjack/webcam"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"usbstream/internal/frame"
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
	// Demand reports whether anyone may want frames now; raw frames are not
	// encoded while it is false (the camera keeps streaming, so the sensor
	// stays exposed correctly for the next viewer). Nil means always.
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

	mu       sync.Mutex
	info     source.Info
	identity *identity // the camera found first, reopened after an unplug
	devices  []Device
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
	if s.info.Device == "waiting for camera" {
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

// New returns a camera source; nothing is opened until Run.
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

// Devices returns the cameras found at the last discovery.
func (s *Source) Devices() []Device {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.devices
}

// Run opens the camera and captures until ctx ends or the camera fails.
func (s *Source) Run(ctx context.Context, sink source.Sink) error {
	devices, err := List()
	s.mu.Lock()
	s.devices = devices
	s.mu.Unlock()
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
	cam, err := webcam.Open(dev.Path)
	if err != nil {
		return fmt.Errorf("%s: cannot open: %w", dev.Path, err)
	}
	defer cam.Close()
	if _, _, _, err := cam.SetImageFormat(webcam.PixelFormat(choice.fourcc), uint32(choice.Width), uint32(choice.Height)); err != nil {
		if errors.Is(err, unix.EINVAL) {
			return &deliveryError{format: choice.Format, err: err}
		}
		return fmt.Errorf("%s: cannot set %s %dx%d: %w", dev.Path, choice.Format, choice.Width, choice.Height, err)
	}
	live := s.live.Load()
	if live.FPS > 0 {
		if err := cam.SetFramerate(float32(live.FPS)); err != nil {
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

	fd, err := unix.Open(dev.Path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s: cannot open: %w", dev.Path, err)
	}
	defer unix.Close(fd)
	got, err := getFormat(fd)
	if err != nil {
		return fmt.Errorf("%s: %w", dev.Path, err)
	}
	fps, _ := cam.GetFramerate()
	st, err := startStream(fd, buffers, float64(fps))
	if err != nil {
		return fmt.Errorf("%s: %w", dev.Path, err)
	}
	defer st.close()

	s.publishInfo(dev, choice, got, float64(fps), live.Transform)
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
	s.info, s.choice = info, choice
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

// loop dequeues frames until the camera fails or ctx ends. Each frame is
// copied out of its buffer (which goes straight back to the driver), then
// passed through (MJPEG) or encoded (raw) once, for every client.
// retransform changes the transform of the open camera and returns what
// software must do.
func (s *Source) loop(ctx context.Context, st *stream, got pixFormat, soft jpeg.Transform,
	retransform func(jpeg.Transform) jpeg.Transform, sink source.Sink) error {
	format := FourCC(got.FourCC)
	raw := !compressed(format)
	var pool *encodePool
	if raw {
		pool = newEncodePool(ctx, min(runtime.NumCPU(), 4), func(out any, err error) {
			if err != nil {
				sink.Dropped(err)
				return
			}
			sink.Frame(out.(*frame.Frame))
		})
		defer pool.close()
	}
	// A camera that streams but never delivers a usable frame in this format
	// (common with MJPEG on a busy USB bus) gets a deliveryError, so Run
	// tries the next format; one that stops later is lost, and reopened.
	opened, lastGood, delivered := time.Now(), time.Now(), false
	// -framerate caps the output too, for cameras that only offer faster
	// rates; frames over the cap are dropped before any work is done.
	cur := s.live.Load()
	rateCap := source.NewRateCap(cur.FPS)
	for ctx.Err() == nil {
		if !delivered && time.Since(opened) > firstFrameTimeout {
			return &deliveryError{format: format, wait: firstFrameTimeout}
		}
		if delivered && time.Since(lastGood) > frameTimeout {
			return fmt.Errorf("camera delivered no usable frame for %s", frameTimeout)
		}
		if l := s.live.Load(); l != cur {
			if l.Transform != cur.Transform {
				soft = retransform(l.Transform)
				s.reorient(got, l.Transform)
			}
			if l.FPS != cur.FPS {
				rateCap = source.NewRateCap(l.FPS)
			}
			cur = l
		}
		data, captured, _, err := st.next(250 * time.Millisecond)
		if errors.Is(err, errNoFrame) {
			continue
		}
		if errors.Is(err, errBadBuffer) {
			sink.Dropped(err)
			continue
		}
		if err != nil {
			if errors.Is(err, unix.ENODEV) {
				return errDisconnected
			}
			return err
		}
		if raw && len(data) < got.SizeImage {
			sink.Dropped(fmt.Errorf("short %s frame: %d of %d bytes", format, len(data), got.SizeImage))
			continue
		}
		if !raw {
			if rateCap.Allow(captured) && s.passThrough(data, captured, soft, cur.Quality, sink) {
				delivered, lastGood = true, time.Now()
			}
			continue
		}
		delivered, lastGood = true, time.Now()
		if !rateCap.Allow(captured) {
			continue
		}
		if s.opt.Demand != nil && !s.opt.Demand() {
			sink.Idle(captured) // nobody watching: keep the sensor running, skip the encode
			continue
		}
		r := jpeg.Raw{Format: format, Width: got.Width, Height: got.Height, Stride: got.BytesPerLine, Data: data}
		soft, quality := soft, cur.Quality
		accepted := pool.submit(func() (any, error) {
			jpg, err := jpeg.EncodeRaw(r, quality, soft)
			if err != nil {
				return nil, err
			}
			w, h := r.Width, r.Height
			if soft.SwapsSize() {
				w, h = h, w
			}
			return &frame.Frame{JPEG: jpg, Captured: captured, Width: w, Height: h}, nil
		})
		if !accepted {
			sink.Dropped(errPoolFull)
		}
	}
	return nil
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

// passThrough serves an MJPEG frame as the camera sent it, after dropping
// truncated frames and adding the Huffman tables many UVC cameras omit.
func (s *Source) passThrough(data []byte, captured time.Time, soft jpeg.Transform, quality int, sink source.Sink) bool {
	data = jpeg.Trim(data)
	if err := jpeg.Check(data); err != nil {
		sink.Dropped(err)
		return false
	}
	data = jpeg.EnsureHuffmanTables(data)
	if !soft.IsIdentity() {
		out, err := jpeg.TransformJPEG(data, soft, quality)
		if err != nil {
			sink.Dropped(err)
			return false
		}
		data = out
	}
	w, h, err := jpeg.Dimensions(data)
	if err != nil {
		sink.Dropped(err)
		return false
	}
	sink.Frame(&frame.Frame{JPEG: data, Captured: captured, Width: w, Height: h})
	return true
}
