package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"usbstream/internal/frame"
)

// Conn is where a stream reader writes its parts. A *net.TCPConn is the
// intended one: net.Buffers turns each part into a single writev.
type Conn interface {
	io.Writer
	SetWriteDeadline(t time.Time) error
}

// ReaderOptions tune one stream reader.
type ReaderOptions struct {
	// MaxFPS caps the frames sent per second; 0 sends every frame.
	MaxFPS float64
	// WriteTimeout drops a client whose socket accepts no part for this
	// long, so a stalled viewer cannot hold its goroutine and buffers.
	WriteTimeout time.Duration
	// Keepalive re-sends the last frame when no new one arrived for this
	// long, so ffmpeg, proxies and browsers never sit on a silent connection.
	Keepalive time.Duration
}

// DefaultWriteTimeout and DefaultKeepalive are the values the server uses.
const (
	DefaultWriteTimeout = 5 * time.Second
	DefaultKeepalive    = time.Second
)

// ErrWriteTimeout is returned by Serve when a client stopped reading.
var ErrWriteTimeout = errors.New("client stopped reading (write timed out)")

// Serve writes the hub's frames to conn as the body of a multipart response
// (the HTTP response head must already be written) until ctx ends (returns
// nil) or a write fails. It always sends the newest frame: a reader that was
// busy writing skips the frames it missed and never queues them.
func (h *Hub) Serve(ctx context.Context, conn Conn, c *Client, opt ReaderOptions) error {
	var minInterval time.Duration
	if opt.MaxFPS > 0 {
		minInterval = time.Duration(float64(time.Second) / opt.MaxFPS)
	}
	keepalive := max(opt.Keepalive, minInterval)
	if keepalive <= 0 {
		keepalive = DefaultKeepalive
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = DefaultWriteTimeout
	}

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	header := make([]byte, 0, 160)
	var (
		lastSeq  uint64
		lastSent time.Time
		parts    [3][]byte
	)
	for {
		f, newer := h.Latest()
		now := time.Now()
		var wait time.Duration
		switch {
		case f == nil:
			wait = keepalive // nothing published yet: wait for the first frame
		case f.Seq != lastSeq && now.Sub(lastSent) < minInterval:
			wait = minInterval - now.Sub(lastSent) // fps cap: hold back, then send the newest
			newer = nil
		case f.Seq != lastSeq || now.Sub(lastSent) >= keepalive:
			if err := writePart(conn, f, lastSent.IsZero(), header, &parts, opt.WriteTimeout); err != nil {
				return err
			}
			if f.Seq == lastSeq {
				c.repeats.Add(1)
			} else {
				if lastSeq != 0 && f.Seq > lastSeq+1 {
					c.skipped.Add(f.Seq - lastSeq - 1)
				}
				c.frames.Add(1)
				c.rate.Tick(now)
			}
			c.bytes.Add(uint64(len(f.JPEG)))
			lastSeq, lastSent = f.Seq, now
			continue
		default:
			wait = keepalive - now.Sub(lastSent)
		}
		timer.Reset(wait)
		select {
		case <-newer: // a nil channel (fps cap) never fires
		case <-timer.C:
		case <-ctx.Done():
			return nil
		}
	}
}

// writePart writes one part with a single writev: headers, the shared JPEG
// bytes (never copied) and the trailing boundary.
func writePart(conn Conn, f *frame.Frame, first bool, header []byte, parts *[3][]byte, timeout time.Duration) error {
	if err := conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	parts[0] = AppendPartHeader(header[:0], f, first)
	parts[1] = f.JPEG
	parts[2] = partTrailer
	bufs := net.Buffers(parts[:])
	if _, err := bufs.WriteTo(conn); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return ErrWriteTimeout
		}
		return fmt.Errorf("writing frame %d: %w", f.Seq, err)
	}
	return nil
}
