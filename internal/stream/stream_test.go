package stream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"usbstream/internal/frame"
)

func testFrame(body string, captured time.Time) *frame.Frame {
	return &frame.Frame{JPEG: []byte("\xff\xd8" + body + "\xff\xd9"), Captured: captured}
}

func TestHubAssignsSequenceAndKeepsNewest(t *testing.T) {
	h := NewHub()
	if f, _ := h.Latest(); f != nil {
		t.Fatalf("new hub has frame %v", f)
	}
	_, firstWait := h.Latest()
	for i := 1; i <= 3; i++ {
		h.Publish(testFrame(strconv.Itoa(i), time.Now()))
	}
	select {
	case <-firstWait:
	default:
		t.Fatal("publishing did not wake a reader waiting before it")
	}
	f, wait := h.Latest()
	if f.Seq != 3 || string(f.JPEG[2:3]) != "3" {
		t.Fatalf("latest = seq %d %q, want seq 3 frame 3", f.Seq, f.JPEG)
	}
	select {
	case <-wait:
		t.Fatal("wait channel of the newest frame is already closed")
	default:
	}
}

// A publisher must never wait for readers, however many there are and
// however slow they are.
func TestPublishNeverBlocksOnReaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub()
		ctx, cancel := context.WithCancel(t.Context())
		release := make(chan struct{})
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				h.Serve(ctx, &blockingConn{release: release}, &Client{}, ReaderOptions{WriteTimeout: time.Hour})
			})
		}
		done := make(chan struct{})
		go func() {
			for range 10000 {
				h.Publish(testFrame("x", time.Now()))
			}
			close(done)
		}()
		// Every reader is stuck in a write now; the publisher must have
		// finished without waiting for any.
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Error("10000 publishes did not finish while readers were blocked")
		}
		close(release)
		cancel()
		wg.Wait()
	})
}

// blockingConn blocks every write until release is closed.
type blockingConn struct{ release chan struct{} }

func (b *blockingConn) Write(p []byte) (int, error) {
	<-b.release
	return 0, errors.New("released")
}
func (b *blockingConn) SetWriteDeadline(time.Time) error { return nil }

func TestPartHeaderBytes(t *testing.T) {
	f := testFrame("abc", time.Unix(1700000000, 123456789))
	got := string(AppendPartHeader(nil, f, true))
	want := "--boundarydonotcross\r\nContent-Type: image/jpeg\r\nContent-Length: 7\r\n" +
		"X-Timestamp: 1700000000.123456\r\n\r\n"
	if got != want {
		t.Fatalf("first part header\n got %q\nwant %q", got, want)
	}
	got = string(AppendPartHeader(nil, f, false))
	if got != strings.TrimPrefix(want, "--boundarydonotcross\r\n") {
		t.Fatalf("later part header %q must not repeat the boundary (it follows each JPEG)", got)
	}
	f.Placeholder = true
	got = string(AppendPartHeader(nil, f, false))
	if want := "Content-Type: image/jpeg\r\nContent-Length: 7\r\nX-Timestamp: 1700000000.123456\r\nX-Placeholder: 1\r\n\r\n"; got != want {
		t.Fatalf("placeholder part header\n got %q\nwant %q", got, want)
	}
	if ts := string(AppendTimestamp(nil, &frame.Frame{Captured: time.Unix(5, 7000)})); ts != "5.000007" {
		t.Fatalf("timestamp = %q, want 5.000007 (zero-padded micros)", ts)
	}
}

// The whole body of a stream, byte for byte: a boundary line first, then for
// every frame the headers, the JPEG and CRLF + boundary right after it.
func TestServeWritesExactMultipartBody(t *testing.T) {
	h := NewHub()
	server, client := net.Pipe()
	defer client.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &Client{}
	t0 := time.Unix(1700000000, 0)
	h.Publish(testFrame("one", t0))
	served := make(chan error, 1)
	go func() { served <- h.Serve(ctx, server, c, ReaderOptions{Keepalive: time.Hour}); server.Close() }()

	r := bufio.NewReader(client)
	want := "--boundarydonotcross\r\nContent-Type: image/jpeg\r\nContent-Length: 7\r\nX-Timestamp: 1700000000.000000\r\n\r\n" +
		"\xff\xd8one\xff\xd9\r\n--boundarydonotcross\r\n"
	readExactly(t, r, want)
	h.Publish(testFrame("two!", t0.Add(40*time.Millisecond)))
	readExactly(t, r, "Content-Type: image/jpeg\r\nContent-Length: 8\r\nX-Timestamp: 1700000000.040000\r\n\r\n"+
		"\xff\xd8two!\xff\xd9\r\n--boundarydonotcross\r\n")
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve after cancel = %v, want nil", err)
	}
	if info := c.Info(time.Now()); info.Frames != 2 || info.Bytes != 15 {
		t.Fatalf("client counters = %+v, want 2 frames, 15 bytes", info)
	}
}

func readExactly(t *testing.T, r io.Reader, want string) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatalf("reading %d bytes: %v (got %q)", len(want), err, got)
	}
	if string(got) != want {
		t.Fatalf("stream bytes\n got %q\nwant %q", got, want)
	}
}

func TestServeResendsLastFrameWhenIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub()
		h.Publish(testFrame("still", time.Now()))
		rec := &recordingConn{}
		c := &Client{}
		ctx, cancel := context.WithTimeout(context.Background(), 350*time.Millisecond)
		defer cancel()
		h.Serve(ctx, rec, c, ReaderOptions{Keepalive: 100 * time.Millisecond})
		if got := fmt.Sprint(rec.offsets()); got != "[0s 100ms 200ms 300ms]" || c.frames.Load() != 1 {
			t.Fatalf("parts at %s, %d of them new, want the frame at once and a re-send every 100 ms", got, c.frames.Load())
		}
	})
}

// A cap above the source's rate must not make the reader repeat frames,
// and a cap far below it still gets a keep-alive once a second.
func TestServeCapDoesNotChangeKeepalive(t *testing.T) {
	for _, tc := range []struct {
		maxFPS float64
		parts  string
		frames uint64
	}{
		// Ten frames a tenth of a second apart, then a keep-alive at the
		// first tick of the reader's half-second ticker at least 0.75 s
		// after the last (see TestKeepaliveCadenceIsThePeriod).
		{1000, "[0s 100ms 200ms 300ms 400ms 500ms 600ms 700ms 800ms 900ms 2s]", 10},
		// The first frame, then keep-alives: the cap holds the rest back.
		{0.1, "[0s 1s 2s]", 1},
	} {
		synctest.Test(t, func(t *testing.T) {
			h := NewHub()
			rec, c, stop := serve(t, h, ReaderOptions{MaxFPS: tc.maxFPS})
			for i := range 10 { // 10 fps for one second
				h.Publish(testFrame(fmt.Sprintf("%03d", i), time.Now()))
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(1600 * time.Millisecond) // then silence: a keep-alive or two
			stop()
			if got := fmt.Sprint(rec.offsets()); got != tc.parts || c.frames.Load() != tc.frames {
				t.Errorf("fps=%v: parts at %s, %d of them new; want %s, %d new", tc.maxFPS, got, c.frames.Load(), tc.parts, tc.frames)
			}
		})
	}
}

func TestServeCapsFPSAndSkipsToNewest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub()
		rec, c, stop := serve(t, h, ReaderOptions{MaxFPS: 10, Keepalive: time.Hour})
		// Publish 100 fps for one second; a 10 fps client gets a frame
		// every 100 ms, always the newest, and counts the rest as skipped.
		for i := range 100 {
			h.Publish(testFrame(fmt.Sprintf("%03d", i), time.Now()))
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(150 * time.Millisecond)
		stop()
		if got := fmt.Sprint(rec.offsets()); got != "[0s 100ms 200ms 300ms 400ms 500ms 600ms 700ms 800ms 900ms 1s]" {
			t.Fatalf("a 10 fps client got parts at %s, want one every 100 ms", got)
		}
		if !strings.HasSuffix(rec.String(), "\xff\xd8099\xff\xd9\r\n--boundarydonotcross\r\n") {
			t.Fatal("the client's last part is not the newest frame published")
		}
		// 100 published, 11 sent from the first to the last.
		if skipped := c.skipped.Load(); skipped != 89 {
			t.Fatalf("skipped = %d, want the 89 frames the cap held back", skipped)
		}
	})
}

// A reader whose socket stops accepting data is dropped after the write
// timeout instead of holding its goroutine forever. On the real clock and
// a real socket: what the peer's kernel still acknowledges, unread, is the
// progress the timeout is judged by, and a fake clock cannot drive it.
func TestServeDropsStalledClient(t *testing.T) {
	h := NewHub()
	h.Publish(testFrame(strings.Repeat("x", 1<<20), time.Now()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close() // never reads
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		for i := 0; i < 20; i++ {
			time.Sleep(20 * time.Millisecond)
			h.Publish(testFrame(strings.Repeat("y", 1<<20), time.Now()))
		}
	}()
	err = h.Serve(context.Background(), conn, &Client{}, ReaderOptions{WriteTimeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrWriteTimeout) {
		t.Fatalf("Serve to a client that never reads = %v, want ErrWriteTimeout", err)
	}
}

// Cancelling ends every reader at once, each having sent the newest frame,
// and leaves nothing behind: synctest.Test fails when a goroutine of the
// bubble (one that Serve started, say) is still blocked at the end.
func TestReadersEndAtOnceAndLeaveNoGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub()
		ctx, cancel := context.WithCancel(context.Background())
		conns := make([]*recordingConn, 100)
		var ended atomic.Int32
		for i := range conns {
			conns[i] = &recordingConn{}
			go func() {
				if err := h.Serve(ctx, conns[i], &Client{}, ReaderOptions{}); err != nil {
					t.Errorf("Serve = %v, want nil after cancel", err)
				}
				ended.Add(1)
			}()
		}
		for i := range 10 {
			h.Publish(testFrame(fmt.Sprintf("%03d", i), time.Now()))
		}
		synctest.Wait()
		for i, c := range conns {
			if !strings.HasSuffix(c.String(), "\xff\xd8009\xff\xd9\r\n--boundarydonotcross\r\n") {
				t.Fatalf("reader %d did not end on the newest frame", i)
			}
		}
		cancel()
		synctest.Wait()
		if n := ended.Load(); n != 100 {
			t.Fatalf("%d of 100 readers returned after cancel", n)
		}
	})
}

func TestRegistryListsClientsInOrder(t *testing.T) {
	r := NewRegistry()
	a, _ := r.Admit("127.0.0.1:1", "/stream", "stream", 0, Limits{})
	b, _ := r.Admit("127.0.0.1:2", "/stream?fps=2", "stream", 2, Limits{})
	b.Sent(100)
	list := r.List(time.Now())
	if len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID || list[1].Bytes != 100 || list[1].MaxFPS != 2 {
		t.Fatalf("list = %+v", list)
	}
	r.Remove(a)
	if list := r.List(time.Now()); len(list) != 1 || list[0].ID != b.ID {
		t.Fatalf("list after Remove = %+v, want the other client", list)
	}
}

// serve runs h.Serve in the bubble to a new recordingConn; stop cancels it
// and waits for it to return.
func serve(t *testing.T, h *Hub, opt ReaderOptions) (rec *recordingConn, c *Client, stop func()) {
	rec, c = &recordingConn{}, &Client{}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan struct{})
	go func() { h.Serve(ctx, rec, c, opt); close(served) }()
	return rec, c, func() { cancel(); <-served }
}

// recordingConn collects what is written to it, and when each part's
// header was written.
type recordingConn struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	times []time.Time
}

func (r *recordingConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if bytes.Contains(p, []byte("Content-Length:")) {
		r.times = append(r.times, time.Now())
	}
	return r.buf.Write(p)
}
func (r *recordingConn) SetWriteDeadline(time.Time) error { return nil }
func (r *recordingConn) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// offsets are the part times from the bubble's start: synctest's clock
// begins at midnight UTC 2000-01-01.
func (r *recordingConn) offsets() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var d []time.Duration
	for _, t := range r.times {
		d = append(d, t.Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)))
	}
	return d
}

func TestRegistryWantedLingers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRegistry()
		if r.Wanted(time.Now(), time.Second) {
			t.Fatal("wanted before any client came")
		}
		c, _ := r.Admit("127.0.0.1:1", "/snapshot", "snapshot", 0, Limits{})
		time.Sleep(time.Hour)
		if !r.Wanted(time.Now(), time.Second) {
			t.Fatal("not wanted with a client connected")
		}
		r.Remove(c)
		left := time.Now()
		if !r.Wanted(left.Add(time.Second-time.Nanosecond), time.Second) || r.Wanted(left.Add(time.Second), time.Second) {
			t.Fatal("want: wanted for the linger time after the client left, not after")
		}
	})
}

func TestRegistryAdmitKeepsLimitsUnderABurst(t *testing.T) {
	r := NewRegistry()
	lim := Limits{Total: 10, PerHost: 4}
	var (
		mu       sync.Mutex
		admitted []*Client
		full     = map[error]int{}
	)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			c, err := r.Admit(fmt.Sprintf("127.0.0.%d:%d", i%5+1, 40000+i), "/stream", "stream", 0, lim)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				full[err]++
				return
			}
			admitted = append(admitted, c)
		})
	}
	wg.Wait()
	perHost := map[string]int{}
	for _, c := range admitted {
		perHost[c.host]++
	}
	if n := len(r.List(time.Now())); len(admitted) != 10 || n != 10 {
		t.Fatalf("admitted %d (registry %d), want exactly the limit of 10", len(admitted), n)
	}
	for h, n := range perHost {
		if n > 4 {
			t.Errorf("%s has %d clients, limit 4", h, n)
		}
	}
	if full[ErrFull]+full[ErrHostFull] != 90 {
		t.Errorf("refusals %v, want 90", full)
	}

	// A host at its limit gets a slot back when one of its clients leaves,
	// and removing a client twice frees only one slot.
	r2 := NewRegistry()
	a, _ := r2.Admit("[::1]:1000", "/stream", "stream", 0, Limits{PerHost: 1})
	if _, err := r2.Admit("[::1]:1001", "/stream", "stream", 0, Limits{PerHost: 1}); err != ErrHostFull {
		t.Fatalf("second client from ::1: %v, want ErrHostFull", err)
	}
	if _, err := r2.Admit("127.0.0.1:1001", "/stream", "stream", 0, Limits{PerHost: 1}); err != nil {
		t.Fatalf("a client from another address: %v", err)
	}
	r2.Remove(a)
	r2.Remove(a)
	b, err := r2.Admit("[::1]:1002", "/stream", "stream", 0, Limits{PerHost: 1})
	if err != nil {
		t.Fatalf("after the first left: %v", err)
	}
	if _, err := r2.Admit("[::1]:1003", "/stream", "stream", 0, Limits{PerHost: 1}); err != ErrHostFull {
		t.Fatalf("double Remove freed a second slot: %v", err)
	}
	r2.Remove(b)
}

// The keep-alive repeats the last frame once per period, as README says
// ("every second" with the default), not every period and a quarter. The
// reader checks on a ticker at half the period, and a new frame comes at
// any phase of it: the first repeat follows 0.75 to 1.25 periods after the
// frame, one period on average over the phases, and from then on repeats
// follow repeats a period apart. (On the real clock the ticker's wake-ups
// jitter by microseconds, which puts every repeat at such a phase; without
// the reader's half-tick slack the mean was 1.25 periods.)
func TestKeepaliveCadenceIsThePeriod(t *testing.T) {
	const period = 200 * time.Millisecond
	const phases = 8
	var sum time.Duration
	for i := range phases {
		// Spread evenly over one tick (half a period), off its edges.
		phase := time.Duration(2*i+1) * (period / 2) / (2 * phases)
		synctest.Test(t, func(t *testing.T) {
			h := NewHub()
			rec, _, stop := serve(t, h, ReaderOptions{Keepalive: period})
			time.Sleep(phase)
			h.Publish(testFrame("still", time.Now()))
			time.Sleep(5 * period)
			stop()
			parts := rec.offsets()
			if len(parts) < 5 || parts[0] != phase {
				t.Fatalf("parts at %v, want the frame at %v and at least four repeats", parts, phase)
			}
			first := parts[1] - parts[0]
			if first < period*3/4 || first > period*5/4 {
				t.Errorf("frame at %v: first repeat %v later, want within a quarter period of %v", phase, first, period)
			}
			sum += first
			for k := 2; k < len(parts); k++ {
				if gap := parts[k] - parts[k-1]; gap != period {
					t.Errorf("frame at %v: repeats at %v, want them %v apart", phase, parts[1:], period)
					break
				}
			}
		})
	}
	if mean := sum / phases; mean != period {
		t.Fatalf("the first repeat came %v after a new frame on average, want the keep-alive period %v", mean, period)
	}
}
