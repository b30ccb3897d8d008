package stream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
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
	h := NewHub()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		w := &blockingConn{release: make(chan struct{})}
		defer close(w.release)
		wg.Go(func() { h.Serve(ctx, w, &Client{}, ReaderOptions{WriteTimeout: time.Hour}) })
	}
	done := make(chan struct{})
	go func() {
		for i := 0; i < 10000; i++ {
			h.Publish(testFrame("x", time.Now()))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("10000 publishes did not finish while readers were blocked")
	}
	cancel()
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
	h := NewHub()
	h.Publish(testFrame("still", time.Now()))
	rec := &recordingConn{}
	c := &Client{}
	ctx, cancel := context.WithTimeout(context.Background(), 350*time.Millisecond)
	defer cancel()
	start := time.Now()
	h.Serve(ctx, rec, c, ReaderOptions{Keepalive: 100 * time.Millisecond})
	parts, max := rec.parts(), 1+int(time.Since(start)/(100*time.Millisecond))
	if parts < 3 || parts > max {
		t.Fatalf("sent %d parts in %v with a 100 ms keep-alive, want 3..%d (first + re-sends)", parts, time.Since(start), max)
	}
	if c.frames.Load() != 1 || c.repeats.Load() != uint64(parts-1) {
		t.Fatalf("frames=%d repeats=%d, want 1 new frame and the rest repeats", c.frames.Load(), c.repeats.Load())
	}
}

// A cap above the source's rate must not make the reader repeat frames,
// and a cap far below it still gets a keep-alive about once a second.
func TestServeCapDoesNotChangeKeepalive(t *testing.T) {
	for _, tc := range []struct {
		maxFPS          float64
		minParts, maxPs int
	}{{1000, 9, 13}, {0.1, 2, 4}} {
		h := NewHub()
		rec := &recordingConn{}
		c := &Client{}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan struct{})
		go func() { h.Serve(ctx, rec, c, ReaderOptions{MaxFPS: tc.maxFPS}); close(served) }()
		for i := 0; i < 10; i++ { // 10 fps for one second
			h.Publish(testFrame(fmt.Sprintf("%03d", i), time.Now()))
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(1600 * time.Millisecond) // then silence: a keep-alive or two
		cancel()
		<-served
		if n := rec.parts(); n < tc.minParts || n > tc.maxPs {
			t.Errorf("fps=%v: %d parts (%d new, %d repeats), want %d..%d", tc.maxFPS, n, c.frames.Load(), c.repeats.Load(), tc.minParts, tc.maxPs)
		}
	}
}

func TestServeCapsFPSAndSkipsToNewest(t *testing.T) {
	h := NewHub()
	rec := &recordingConn{}
	c := &Client{}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { h.Serve(ctx, rec, c, ReaderOptions{MaxFPS: 10, Keepalive: time.Hour}); close(served) }()
	// Publish 100 fps for about one second; a 10 fps client gets about ten
	// frames per second, always the newest, and counts the rest as skipped.
	start := time.Now()
	for i := 0; i < 100; i++ {
		h.Publish(testFrame(fmt.Sprintf("%03d", i), time.Now()))
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond)
	cancel()
	<-served
	elapsed := time.Since(start)
	n := rec.parts()
	if want := elapsed.Seconds() * 10; float64(n) < want-3 || float64(n) > want+1.5 {
		t.Fatalf("a 10 fps client got %d frames in %v, want about %.0f", n, elapsed, want)
	}
	if !strings.Contains(rec.String(), "\xff\xd8099\xff\xd9") {
		t.Fatal("the client never got the newest frame after publishing stopped")
	}
	if skipped := c.skipped.Load(); skipped < 80 {
		t.Fatalf("skipped = %d, want the ~90 frames the cap held back", skipped)
	}
}

// A reader whose socket stops accepting data is dropped after the write
// timeout instead of holding its goroutine forever.
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

func TestReadersLeaveNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	h := NewHub()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Go(func() { h.Serve(ctx, &recordingConn{}, &Client{}, ReaderOptions{}) })
	}
	for i := 0; i < 10; i++ {
		h.Publish(testFrame("x", time.Now()))
	}
	cancel()
	wg.Wait()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after readers ended, %d before", n, before)
	}
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

// recordingConn collects what is written to it.
type recordingConn struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recordingConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}
func (r *recordingConn) SetWriteDeadline(time.Time) error { return nil }
func (r *recordingConn) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}
func (r *recordingConn) parts() int { return strings.Count(r.String(), "Content-Length:") }

func TestRegistryWantedLingers(t *testing.T) {
	r := NewRegistry()
	now := time.Now()
	if r.Wanted(now, time.Second) {
		t.Fatal("wanted before any client came")
	}
	c, _ := r.Admit("127.0.0.1:1", "/snapshot", "snapshot", 0, Limits{})
	if !r.Wanted(now, time.Second) {
		t.Fatal("not wanted with a client connected")
	}
	r.Remove(c)
	if !r.Wanted(time.Now(), time.Second) || r.Wanted(time.Now().Add(2*time.Second), time.Second) {
		t.Fatal("want: wanted just after the client left, not after the linger time")
	}
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

// partTimesConn records when each part's header was written.
type partTimesConn struct {
	mu    sync.Mutex
	times []time.Time
}

func (p *partTimesConn) Write(b []byte) (int, error) {
	if bytes.Contains(b, []byte("Content-Length:")) {
		p.mu.Lock()
		p.times = append(p.times, time.Now())
		p.mu.Unlock()
	}
	return len(b), nil
}
func (p *partTimesConn) SetWriteDeadline(time.Time) error { return nil }

// The keep-alive repeats the last frame once per period, as README says
// ("every second" with the default), not every period and a quarter.
func TestKeepaliveCadenceIsThePeriod(t *testing.T) {
	const period = 200 * time.Millisecond
	h := NewHub()
	h.Publish(testFrame("still", time.Now()))
	rec := &partTimesConn{}
	ctx, cancel := context.WithTimeout(context.Background(), 12*period+period/2)
	defer cancel()
	h.Serve(ctx, rec, &Client{}, ReaderOptions{Keepalive: period})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.times) < 5 {
		t.Fatalf("only %d parts in %v with a %v keep-alive", len(rec.times), 12*period, period)
	}
	// The first repeat follows the new frame at any phase of the ticker;
	// from the second on, repeats follow repeats.
	gaps := rec.times[len(rec.times)-1].Sub(rec.times[1])
	mean := gaps / time.Duration(len(rec.times)-2)
	// Loose enough for a busy machine's late ticks; the bug it catches made
	// the mean 1.25 periods.
	if mean < period*9/10 || mean > period*115/100 {
		t.Fatalf("repeats came every %v on average (%d parts), want the keep-alive period %v", mean, len(rec.times), period)
	}
}
