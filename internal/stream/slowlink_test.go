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

func TestSlowViewerSeesFreshFrames(t *testing.T) {
	const (
		size = 40_000
		fps  = 25.0
		rate = 200_000.0 // bytes/s: five frames a second at most
	)
	h := NewHub()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	go publishFor(ctx, h, size, fps)
	c := &Client{}
	served := serveOne(t, ctx, h, ln, c, ReaderOptions{})

	ages := make(chan time.Duration, 100)
	start := time.Now()
	slowViewer(t, ln.Addr().String(), rate, ages)
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
	// rest is the bounded queue (SendQueueBytes) and scheduling.
	transfer := time.Duration(size / rate * float64(time.Second))
	interval := time.Duration(float64(time.Second) / fps)
	queue := time.Duration(float64(SendQueueBytes) / rate * float64(time.Second))
	bound := transfer + interval + queue + 300*time.Millisecond
	t.Logf("%d frames after warm-up; oldest %s (transfer %s, interval %s, queue %s); server says last %.1f ms, max %.1f ms",
		frames, worst.Round(time.Millisecond), transfer, interval, queue, c.Info(time.Now()).FrameAgeMs, c.Info(time.Now()).MaxFrameAgeMs)
	if worst > bound {
		t.Errorf("a viewer reading %.0f KB/s was shown a frame %s old; want at most %s", rate/1000, worst.Round(time.Millisecond), bound)
	}
	if got := c.Info(time.Now()).MaxFrameAgeMs; got <= 0 {
		t.Errorf("the client's figures show no frame age (maxFrameAgeMs %v)", got)
	}
}

func TestSlowViewerIsNotCut(t *testing.T) {
	// One frame takes 1 s to arrive at this rate, five times the write
	// timeout: a viewer that keeps reading must keep its stream.
	const (
		size    = 100_000
		rate    = 100_000.0
		timeout = 200 * time.Millisecond
	)
	h := NewHub()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go publishFor(ctx, h, size, 10)
	served := serveOne(t, ctx, h, ln, &Client{}, ReaderOptions{WriteTimeout: timeout})
	ages := make(chan time.Duration, 100)
	ended := slowViewer(t, ln.Addr().String(), rate, ages)
	frames := 0
	for range ages {
		if frames++; frames == 4 {
			break
		}
	}
	select {
	case err := <-served:
		t.Fatalf("the server ended the stream of a viewer reading %.0f KB/s after %d frames: %v", rate/1000, frames, err)
	case err := <-ended:
		t.Fatalf("the viewer's stream ended after %d frames: %v", frames, err)
	default:
	}
	if frames < 4 {
		t.Fatalf("the viewer got %d frames", frames)
	}
}

func TestStalledViewerIsCutWithSmallFrames(t *testing.T) {
	// Frames small enough that each write is taken whole: the wait for
	// the queue to drain is what must notice the viewer stopped reading.
	h := NewHub()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go publishFor(ctx, h, 8_000, 50)
	served := serveOne(t, ctx, h, ln, &Client{}, ReaderOptions{WriteTimeout: 200 * time.Millisecond})
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close() // never reads
	select {
	case err := <-served:
		if !errors.Is(err, ErrWriteTimeout) {
			t.Fatalf("Serve to a viewer that never reads = %v, want ErrWriteTimeout", err)
		}
	case <-ctx.Done():
		t.Fatal("a viewer that never reads was not cut within 10 s")
	}
}
