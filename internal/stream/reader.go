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
	// WriteTimeout drops a client that reads less than MinProgress in this
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

// MinProgress is what a viewer must read per write timeout to keep its
// stream: 4 KiB in 5 s is 800 B/s, at which one camera frame takes a
// minute. Less is a stalled or trickling client holding a slot.
const MinProgress = 4 << 10

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
	// The keep-alive does not depend on the fps cap: a repeat of an
	// unchanged frame keeps the connection alive and is not counted against
	// the cap, which limits new frames only.
	keepalive := opt.Keepalive
	if keepalive <= 0 {
		keepalive = DefaultKeepalive
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = DefaultWriteTimeout
	}

	// The keep-alive check runs on a slow ticker rather than a timer reset
	// for every frame: at 30 fps and hundreds of clients, per-frame timer
	// work is a visible share of the server's CPU. Two ticks a period, and
	// half a tick of slack: two ticks come a hair under a period apart, and
	// a strict comparison made the re-sends come every 1.25 periods (every
	// third tick, half the time) instead of every period.
	tick := keepalive / 2
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	var capTimer *time.Timer // only for clients with an fps cap
	w := partWriter{conn: conn, queue: boundSendQueue(conn), timeout: opt.WriteTimeout, header: make([]byte, 0, 160)}
	var (
		sent     *frame.Frame // the last frame written: what a keep-alive repeats
		lastSeq  uint64
		lastSent time.Time // any part, repeats included: for the keep-alive
		lastNew  time.Time // a new frame: for the fps cap
	)
	for {
		f, newer := h.Latest()
		now := time.Now()
		var capped <-chan time.Time
		switch {
		case f != nil && f.Seq != lastSeq && now.Sub(lastNew) >= minInterval:
			if err := w.write(f, sent == nil, now); err != nil {
				return err
			}
			if lastSeq != 0 && f.Seq > lastSeq+1 {
				c.skipped.Add(f.Seq - lastSeq - 1)
			}
			c.frames.Add(1)
			c.bytes.Add(uint64(len(f.JPEG)))
			c.rate.Tick(now)
			c.sentAge(time.Since(f.Captured))
			sent, lastSeq, lastSent, lastNew = f, f.Seq, now, now
			continue
		case sent != nil && now.Sub(lastSent) >= keepalive-tick/2:
			if err := w.write(sent, false, now); err != nil {
				return err
			}
			c.repeats.Add(1)
			c.bytes.Add(uint64(len(sent.JPEG)))
			lastSent = now
			continue
		case f != nil && f.Seq != lastSeq:
			// fps cap: hold back, then send whatever is newest by then.
			if capTimer == nil {
				capTimer = time.NewTimer(time.Hour)
				defer capTimer.Stop()
			}
			capTimer.Reset(minInterval - now.Sub(lastNew))
			capped, newer = capTimer.C, nil
		}
		select {
		case <-newer: // nil while the fps cap holds back
		case <-capped:
		case <-ticker.C:
		case <-ctx.Done():
			return nil
		}
	}
}

// partWriter writes parts to one client.
type partWriter struct {
	conn     Conn
	queue    *sendQueue // nil when conn is no TCP socket
	timeout  time.Duration
	deadline time.Time
	header   []byte
	parts    [3][]byte
	bufs     net.Buffers // kept here so that handing it to WriteTo does not allocate
	// written counts the bytes the kernel took; written minus what it
	// holds unacknowledged is what the viewer has received. acked is that
	// when the deadline was last set, the measure of progress.
	written, acked int64
}

// write sends one part with a single writev: headers, the shared JPEG bytes
// (never copied) and the trailing boundary. On a TCP connection it returns
// only once the kernel would take the next part (see SendQueueBytes), so
// that the caller picks the frame to send next when the link can carry it.
func (w *partWriter) write(f *frame.Frame, first bool, now time.Time) error {
	if err := w.arm(now, false); err != nil {
		return err
	}
	w.header = AppendPartHeader(w.header[:0], f, first)
	w.parts = [3][]byte{w.header, f.JPEG, partTrailer}
	w.bufs = w.parts[:]
	for {
		n, err := w.bufs.WriteTo(w.conn)
		w.written += n
		if err == nil {
			break
		}
		if err := w.timedOut(err, n); err != nil {
			return fmt.Errorf("writing frame %d: %w", f.Seq, err)
		}
	}
	if w.queue == nil {
		return nil
	}
	for {
		err := w.queue.waitWritable()
		if err == nil {
			return nil
		}
		if err := w.timedOut(err, 0); err != nil {
			return fmt.Errorf("writing frame %d: %w", f.Seq, err)
		}
	}
}

// timedOut decides what a failed write (n bytes taken) means. A viewer is
// dropped only when it read less than MinProgress since the deadline was
// set: on a slow link one frame may take longer than the write timeout,
// and a viewer that is still reading must keep its stream. A nil result
// means: write on, the deadline is set again.
func (w *partWriter) timedOut(err error, n int64) error {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	before := w.acked
	if err := w.arm(time.Now(), true); err != nil {
		return err
	}
	reading := n > 0 // without a queue to ask, taken bytes are the measure
	if w.queue != nil {
		reading = w.acked-before >= MinProgress
	}
	if !reading {
		return ErrWriteTimeout
	}
	return nil
}

// arm sets the write deadline a full timeout ahead, and notes how much the
// viewer had received then. Unless forced it moves the deadline only once
// half of it has passed, which still drops a stalled client within one and
// a half timeouts but spares a syscall-side timer update (and the queue's
// ioctl) per frame.
func (w *partWriter) arm(now time.Time, force bool) error {
	if !force && w.deadline.Sub(now) >= w.timeout/2 {
		return nil
	}
	if w.queue != nil {
		unacked, err := w.queue.unacked()
		if err != nil {
			return err
		}
		w.acked = w.written - int64(unacked)
	}
	w.deadline = now.Add(w.timeout)
	return w.conn.SetWriteDeadline(w.deadline)
}
