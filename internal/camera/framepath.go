package camera

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"usbstream/internal/frame"
	"usbstream/internal/jpeg"
	"usbstream/internal/source"
)

// loop dequeues frames until the camera fails or ctx ends. Each frame is
// copied out of its buffer (which goes straight back to the driver), then
// handed to the frame path. retransform changes the transform of the open
// camera and returns what software must do.
func (s *Source) loop(ctx context.Context, st *stream, got pixFormat, soft jpeg.Transform,
	retransform func(jpeg.Transform) jpeg.Transform, sink source.Sink) error {
	cur := s.live.Load()
	p := newFramePath(ctx, got, sink, s.opt.Demand)
	defer p.close()
	p.soft, p.quality = soft, cur.Quality
	// -framerate caps the output too, for cameras that only offer faster
	// rates; frames over the cap are dropped before any work is done.
	p.rateCap = source.NewRateCap(cur.FPS)
	// A camera that streams but never delivers a usable frame in this format
	// (common with MJPEG on a busy USB bus) gets a deliveryError, so Run
	// tries the next format; one that stops later is lost, and reopened.
	opened, lastGood, delivered := time.Now(), time.Now(), false
	// Sequence numbers start again with every stream, so the count of the
	// driver's drops does too (the supervisor adds them up).
	var gaps sequenceGaps
	for ctx.Err() == nil {
		if !delivered && time.Since(opened) > firstFrameTimeout {
			return &deliveryError{format: p.format, wait: firstFrameTimeout}
		}
		if delivered && time.Since(lastGood) > frameTimeout {
			return fmt.Errorf("camera delivered no usable frame for %s", frameTimeout)
		}
		if l := s.live.Load(); l != cur {
			if l.Transform != cur.Transform {
				p.soft = retransform(l.Transform)
				s.reorient(got, l.Transform)
			}
			if l.FPS != cur.FPS {
				p.rateCap = source.NewRateCap(l.FPS)
			}
			p.quality = l.Quality
			cur = l
		}
		data, captured, seq, err := st.next(250 * time.Millisecond)
		if errors.Is(err, errNoFrame) {
			continue
		}
		if err == nil || errors.Is(err, errBadBuffer) {
			if n := gaps.skipped(seq); n > 0 {
				sink.DriverDropped(uint64(n))
			}
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
		if p.take(data, captured) {
			delivered, lastGood = true, time.Now()
		}
	}
	return nil
}

// framePath turns the frames of one open camera into the JPEGs clients
// get: MJPEG passes through, raw frames are encoded (on a pool), and either
// is rotated or flipped in software where the camera could not do it.
type framePath struct {
	format string
	raw    bool
	got    pixFormat
	sink   source.Sink
	// demand says whether anyone may want frames now; nil means always.
	demand func() bool
	pool   *encodePool // raw formats only

	soft    jpeg.Transform
	quality int
	rateCap source.RateCap
}

func newFramePath(ctx context.Context, got pixFormat, sink source.Sink, demand func() bool) *framePath {
	format := FourCC(got.FourCC)
	p := &framePath{format: format, raw: !compressed(format), got: got, sink: sink, demand: demand, quality: 85}
	if p.raw {
		p.pool = newEncodePool(ctx, min(runtime.NumCPU(), 4), func(out any, err error) {
			if err != nil {
				sink.Dropped(err)
				return
			}
			sink.Frame(out.(*frame.Frame))
		})
	}
	return p
}

// close waits for the frames being encoded.
func (p *framePath) close() {
	if p.pool != nil {
		p.pool.close()
	}
}

// take handles one dequeued frame. It reports whether the frame was usable,
// which tells a camera that delivers from one that streams only garbage.
func (p *framePath) take(data []byte, captured time.Time) bool {
	if p.raw && len(data) < p.got.SizeImage {
		p.sink.Dropped(fmt.Errorf("short %s frame: %d of %d bytes", p.format, len(data), p.got.SizeImage))
		return false
	}
	if !p.raw {
		data = jpeg.Trim(data)
		if err := jpeg.Check(data); err != nil {
			p.sink.Dropped(err)
			return false
		}
	}
	if !p.rateCap.Allow(captured) {
		return true
	}
	// The one place where per-frame work waits for a viewer: encoding a raw
	// frame, or decoding, turning and encoding an MJPEG one, costs a core on
	// a Pi. The camera keeps streaming, so the sensor stays exposed right
	// for the next viewer; an MJPEG frame that needs nothing is passed on
	// anyway, which keeps the latest frame fresh for a snapshot.
	if (p.raw || !p.soft.IsIdentity()) && p.demand != nil && !p.demand() {
		p.sink.Idle(captured)
		return true
	}
	if p.raw {
		p.encode(data, captured)
		return true
	}
	return p.passThrough(data, captured)
}

// encode queues a raw frame for the pool; a full pool drops it.
func (p *framePath) encode(data []byte, captured time.Time) {
	r := jpeg.Raw{Format: p.format, Width: p.got.Width, Height: p.got.Height, Stride: p.got.BytesPerLine, Data: data}
	soft, quality := p.soft, p.quality
	accepted := p.pool.submit(func() (any, error) {
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
		p.sink.Dropped(errPoolFull)
	}
}

// passThrough serves a checked MJPEG frame as the camera sent it, with the
// Huffman tables many UVC cameras omit, turned if software must turn it.
func (p *framePath) passThrough(data []byte, captured time.Time) bool {
	data = jpeg.EnsureHuffmanTables(data)
	if !p.soft.IsIdentity() {
		out, err := jpeg.TransformJPEG(data, p.soft, p.quality)
		if err != nil {
			p.sink.Dropped(err)
			return false
		}
		data = out
	}
	w, h, err := jpeg.Dimensions(data)
	if err != nil {
		p.sink.Dropped(err)
		return false
	}
	p.sink.Frame(&frame.Frame{JPEG: data, Captured: captured, Width: w, Height: h})
	return true
}
