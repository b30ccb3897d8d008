package stream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"usbstream/internal/frame"
)

// The slow-link tests run on the real clock over loopback TCP: the
// kernel's send queue (TCP_NOTSENT_LOWAT), its count of unacknowledged
// bytes and the viewer's receive buffer are what they test, and synctest's
// fake clock does not reach them.

// throttledReader reads at most rate bytes per second, the way a viewer on
// a slow link drains its socket.
type throttledReader struct {
	r     io.Reader
	rate  float64
	start time.Time
	read  int64
}

func (t *throttledReader) Read(p []byte) (int, error) {
	if t.start.IsZero() {
		t.start = time.Now()
	}
	// Never more than 10 ms worth at once, so the pace stays even.
	if chunk := int(t.rate / 100); len(p) > chunk {
		p = p[:max(chunk, 1)]
	}
	due := t.start.Add(time.Duration(float64(t.read) / t.rate * float64(time.Second)))
	time.Sleep(time.Until(due))
	n, err := t.r.Read(p)
	t.read += int64(n)
	return n, err
}

// slowViewer connects to ln with a small receive buffer, so that the link,
// not its own kernel, is what holds the bytes back, and reads the stream
// at rate bytes/s. It sends the age of every complete part (capture time
// from X-Timestamp to its last byte read) on ages until the connection
// ends, and then the error that ended it.
func slowViewer(t *testing.T, addr string, rate float64, ages chan<- time.Duration) <-chan error {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<10) })
		return serr
	}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	done := make(chan error, 1)
	go func() {
		defer close(ages)
		br := bufio.NewReaderSize(&throttledReader{r: conn, rate: rate}, 4<<10)
		tp := textproto.NewReader(br)
		for {
			line, err := tp.ReadLine()
			if err != nil {
				done <- err
				return
			}
			if line != "--"+Boundary {
				continue
			}
			hdr, err := tp.ReadMIMEHeader()
			if err != nil {
				done <- err
				return
			}
			n, _ := strconv.Atoi(hdr.Get("Content-Length"))
			if _, err := io.CopyN(io.Discard, br, int64(n)); err != nil {
				done <- err
				return
			}
			sec, frac, _ := strings.Cut(hdr.Get("X-Timestamp"), ".")
			s, _ := strconv.ParseInt(sec, 10, 64)
			us, _ := strconv.ParseInt(frac, 10, 64)
			ages <- time.Since(time.Unix(s, us*1000))
		}
	}()
	return done
}

// publishFor publishes frames of size bytes at fps until ctx ends.
func publishFor(ctx context.Context, h *Hub, size int, fps float64) {
	body := strings.Repeat("x", size)
	tick := time.NewTicker(time.Duration(float64(time.Second) / fps))
	defer tick.Stop()
	for {
		h.Publish(&frame.Frame{JPEG: []byte("\xff\xd8" + body + "\xff\xd9"), Captured: time.Now()})
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// serveOne accepts one connection on ln and serves the hub's stream to it.
func serveOne(t *testing.T, ctx context.Context, h *Hub, ln net.Listener, c *Client, opt ReaderOptions) <-chan error {
	t.Helper()
	served := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer conn.Close()
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop()
		served <- h.Serve(ctx, conn, c, opt)
	}()
	return served
}

// slowLinkRig publishes frames of size bytes at fps on a fresh hub and
// serves them to the first connection to its listener with opt, until
// limit passes. It returns the listener's address, the served client and
// Serve's result.
func slowLinkRig(t *testing.T, size int, fps float64, opt ReaderOptions, limit time.Duration) (string, *Client, <-chan error, context.CancelFunc) {
	t.Helper()
	h := NewHub()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	go publishFor(ctx, h, size, fps)
	c := &Client{}
	return ln.Addr().String(), c, serveOne(t, ctx, h, ln, c, opt), cancel
}

func TestSlowViewerSeesFreshFrames(t *testing.T) {
	const (
		size = 40_000
		fps  = 25.0
		rate = 200_000.0 // bytes/s: five frames a second at most
	)
	addr, c, served, cancel := slowLinkRig(t, size, fps, ReaderOptions{}, 6*time.Second)
	ages := make(chan time.Duration, 100)
	start := time.Now()
	slowViewer(t, addr, rate, ages)
	var worst time.Duration
	var frames int
	for age := range ages {
		if time.Since(start) < 1500*time.Millisecond {
			continue // the first frames show the start, not the steady state
		}
		frames++
		worst = max(worst, age)
		if time.Since(start) > 5*time.Second {
			break
		}
	}
	elapsed := time.Since(start)
	cancel()
	if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
		t.Logf("Serve ended with %v", err)
	}
	if frames < 3 {
		t.Fatalf("the slow viewer saw %d frames in %s", frames, elapsed)
	}
	// What the viewer can be shown at best: a frame takes size/rate to
	// arrive, and it was up to one interval old when its write began. The
	// rest is the bounded queue (SendQueueBytes), what the viewer's own
	// buffers hold (8 KiB receive buffer, 4 KiB bufio) and scheduling.
	seconds := func(bytes float64) time.Duration { return time.Duration(bytes / rate * float64(time.Second)) }
	transfer := seconds(size)
	interval := time.Duration(float64(time.Second) / fps)
	queue := seconds(SendQueueBytes + 12<<10)
	bound := transfer + interval + queue + 300*time.Millisecond
	info := c.Info(time.Now())
	t.Logf("%d frames after warm-up; oldest %s (transfer %s, interval %s, queues %s); server says last %.1f ms, max %.1f ms",
		frames, worst.Round(time.Millisecond), transfer, interval, queue, info.FrameAgeMs, info.MaxFrameAgeMs)
	if worst > bound {
		t.Errorf("a viewer reading %.0f KB/s was shown a frame %s old; want at most %s", rate/1000, worst.Round(time.Millisecond), bound)
	}
	if info.MaxFrameAgeMs <= 0 {
		t.Errorf("the client's figures show no frame age (maxFrameAgeMs %v)", info.MaxFrameAgeMs)
	}
}

func TestSlowViewerIsNotCut(t *testing.T) {
	// Each frame takes 1-1.5 s to arrive, three to five times the write
	// timeout: a viewer that keeps reading must keep its stream. (With
	// an 8 KiB receive buffer on loopback, acknowledgements come in bursts
	// up to a few hundred milliseconds apart at 40 KB/s, hence 500 ms.)
	for _, tc := range []struct {
		size    int
		rate    float64
		timeout time.Duration
	}{{100_000, 100_000, 200 * time.Millisecond}, {60_000, 40_000, 500 * time.Millisecond}} {
		addr, _, served, cancel := slowLinkRig(t, tc.size, 10, ReaderOptions{WriteTimeout: tc.timeout}, 10*time.Second)
		ages := make(chan time.Duration, 100)
		ended := slowViewer(t, addr, tc.rate, ages)
		frames := 0
		for range ages {
			if frames++; frames == 4 {
				break
			}
		}
		select {
		case err := <-served:
			t.Fatalf("the server ended the stream of a viewer reading %.0f KB/s after %d frames: %v", tc.rate/1000, frames, err)
		case err := <-ended:
			t.Fatalf("the viewer's stream ended after %d frames: %v", frames, err)
		default:
		}
		if frames < 4 {
			t.Fatalf("the viewer reading %.0f KB/s got %d frames", tc.rate/1000, frames)
		}
		cancel()
	}
}

func TestTricklingViewerIsCut(t *testing.T) {
	// 1 KB/s is less than MinProgress per write timeout (4 KiB in 1 s):
	// such a client holds a slot and a frame, and gets nothing useful.
	addr, _, served, _ := slowLinkRig(t, 20_000, 10, ReaderOptions{WriteTimeout: time.Second}, 15*time.Second)
	ages := make(chan time.Duration, 100)
	slowViewer(t, addr, 1_000, ages)
	select {
	case err := <-served:
		if !errors.Is(err, ErrWriteTimeout) {
			t.Fatalf("Serve to a viewer reading 1 KB/s = %v, want ErrWriteTimeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a viewer reading 1 KB/s was not cut within 10 s (write timeout 1 s)")
	}
}

func TestStalledViewerIsCutWithSmallFrames(t *testing.T) {
	// Frames small enough that each write is taken whole: the wait for
	// the queue to drain is what must notice the viewer stopped reading.
	addr, _, served, _ := slowLinkRig(t, 8_000, 50, ReaderOptions{WriteTimeout: 200 * time.Millisecond}, 10*time.Second)
	peer, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close() // never reads
	select {
	case err := <-served:
		if !errors.Is(err, ErrWriteTimeout) {
			t.Fatalf("Serve to a viewer that never reads = %v, want ErrWriteTimeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a viewer that never reads was not cut within 10 s")
	}
}
