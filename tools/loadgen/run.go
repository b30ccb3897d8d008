package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// options configure one run. The exported-looking fields are flags; the
// others exist so tests can shrink buffers and limits.
type options struct {
	URL            string
	Clients        int
	Duration       time.Duration
	Warmup         time.Duration
	Ramp           time.Duration
	PID            int
	SnapshotURL    string
	Snapshots      int
	Slow           int
	SlowRate       int64
	RcvBuf         int // SO_RCVBUF of every stream client; 0: the kernel's default
	User, Password string
	MinFPS         float64
	ConnectTimeout time.Duration

	bufferSize  int
	maxPartSize int
}

// Limits that keep every loop of a run bounded in count and in time.
const (
	maxClients      = 10000
	maxSnapshots    = 10000
	maxDuration     = 10 * time.Minute
	maxWarmup       = time.Minute
	maxPartsPerSec  = 5000 // a stream client stops after this many parts per second of run time
	snapshotTimeout = 10 * time.Second
	maxSamples      = 10 // kept error messages per kind
)

func defaultOptions() options {
	return options{
		URL:            "http://127.0.0.1:8085/stream",
		Clients:        10,
		Duration:       10 * time.Second,
		Warmup:         2 * time.Second,
		Ramp:           time.Second,
		Snapshots:      50,
		SlowRate:       100_000,
		ConnectTimeout: 5 * time.Second,
		bufferSize:     64 << 10,
		maxPartSize:    64 << 20,
	}
}

func (o *options) validate() error {
	switch {
	case o.Clients < 1 || o.Clients > maxClients:
		return fmt.Errorf("-clients %d: want 1 to %d", o.Clients, maxClients)
	case o.Duration <= 0 || o.Duration > maxDuration:
		return fmt.Errorf("-duration %s: want more than 0 and at most %s", o.Duration, maxDuration)
	case o.Warmup < 0 || o.Warmup > maxWarmup:
		return fmt.Errorf("-warmup %s: want 0 to %s", o.Warmup, maxWarmup)
	case o.Ramp < 0 || o.Ramp > o.Warmup:
		return fmt.Errorf("-ramp %s: want 0 to -warmup (%s), so that every client is connected before measuring starts", o.Ramp, o.Warmup)
	case o.PID < 0:
		return fmt.Errorf("-pid %d: want a process id, or 0 to find the process listening on the URL's port", o.PID)
	case o.Snapshots < 0 || o.Snapshots > maxSnapshots:
		return fmt.Errorf("-snapshots %d: want 0 to %d", o.Snapshots, maxSnapshots)
	case o.Slow < 0 || o.Slow > o.Clients:
		return fmt.Errorf("-slow %d: want 0 to -clients (%d)", o.Slow, o.Clients)
	case o.RcvBuf < 0 || o.RcvBuf > 64<<20:
		return fmt.Errorf("-rcvbuf %d: want 0 (the kernel's default) to 64 MiB", o.RcvBuf)
	case o.Slow > 0 && o.SlowRate < 100:
		return fmt.Errorf("-slow-rate %d: want at least 100 bytes per second", o.SlowRate)
	case o.MinFPS < 0:
		return fmt.Errorf("-min-fps %g: want 0 or more", o.MinFPS)
	case o.ConnectTimeout <= 0 || o.ConnectTimeout > time.Minute:
		return fmt.Errorf("-connect-timeout %s: want more than 0 and at most 1m", o.ConnectTimeout)
	case o.bufferSize < minBufferSize:
		return fmt.Errorf("read buffer of %d bytes: want at least %d", o.bufferSize, minBufferSize)
	case o.maxPartSize < 4:
		return fmt.Errorf("part size limit of %d bytes is too small", o.maxPartSize)
	}
	return nil
}

// target is a checked URL and the request that fetches it.
type target struct {
	url      string
	dialAddr string
	port     int
	request  []byte
}

// newTarget accepts only http URLs on 127.0.0.0/8 (or "localhost"). The host
// is never looked up in DNS, so nothing but loopback can receive traffic.
func newTarget(raw, user, password string) (*target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("%s: only http:// URLs are supported", raw)
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if strings.EqualFold(host, "localhost") {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil || ip.To4() == nil || ip.To4()[0] != 127 {
		return nil, fmt.Errorf("%s: the load generator only sends to loopback addresses (127.0.0.0/8 or localhost)", raw)
	}
	port := 80
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("%s: bad port %q", raw, p)
		}
	}
	if user == "" && u.User != nil {
		user = u.User.Username()
		password, _ = u.User.Password()
	}
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: usbstream-loadgen\r\nAccept: */*\r\n", u.RequestURI(), u.Host)
	if user != "" {
		fmt.Fprintf(&req, "Authorization: Basic %s\r\n", base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
	}
	req.WriteString("Connection: close\r\n\r\n")
	u.User = nil // keep credentials out of the report
	return &target{
		url:      u.String(),
		dialAddr: net.JoinHostPort(ip.String(), strconv.Itoa(port)),
		port:     port,
		request:  []byte(req.String()),
	}, nil
}

// snapshotURLFor is the default -snapshot-url: /snapshot on the stream's host.
func snapshotURLFor(stream string) string {
	u, err := url.Parse(stream)
	if err != nil {
		return ""
	}
	u.Path, u.RawPath, u.RawQuery, u.Fragment = "/snapshot", "", "", ""
	return u.String()
}

// clientStats belong to one stream client's goroutine until it ends; the
// report reads them only after every goroutine has finished.
type clientStats struct {
	id          int
	slow        bool
	connected   bool
	connectErr  string
	lostErr     string
	partLimit   bool
	frames      int64 // new frames received in the window
	repeats     int64 // re-sent frames received in the window
	bytes       int64 // bytes received in the window
	parseErrors int64 // over the whole run: a framing bug is one in warm-up too
}

// runner is one run's shared state. The histograms and counters are shared
// by all goroutines; mu guards only the error samples.
type runner struct {
	opt          options
	stream, snap *target
	start        time.Time
	mStart, mEnd time.Time

	clients            []clientStats
	fastLat, slowLat   histogram
	snapLat            histogram
	snapOK, snapFailed atomic.Int64
	mu                 sync.Mutex
	parseSamples       []string
	snapSamples        []string
}

// run opens the stream clients and snapshot requests, measures and returns
// the report. It returns an error only for bad options or when ctx ends;
// failures of the server under test are part of the report.
func run(ctx context.Context, opt options) (*Report, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	stream, err := newTarget(opt.URL, opt.User, opt.Password)
	if err != nil {
		return nil, err
	}
	r := &runner{opt: opt, stream: stream, clients: make([]clientStats, opt.Clients)}
	if opt.Snapshots > 0 {
		if opt.SnapshotURL == "" {
			opt.SnapshotURL = snapshotURLFor(opt.URL)
		}
		if r.snap, err = newTarget(opt.SnapshotURL, opt.User, opt.Password); err != nil {
			return nil, err
		}
	}
	pid, pidNote := opt.PID, ""
	if pid > 0 {
		if _, _, err := procCPU(pid); err != nil {
			return nil, fmt.Errorf("-pid %d: %v", pid, err)
		}
	} else {
		pid, pidNote = discoverPID(stream.port)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.start = time.Now()
	r.mStart = r.start.Add(opt.Warmup)
	r.mEnd = r.mStart.Add(opt.Duration)

	var wg sync.WaitGroup
	for i := range r.clients {
		c := &r.clients[i]
		c.id, c.slow = i, i >= opt.Clients-opt.Slow
		at := r.start.Add(opt.Ramp * time.Duration(i) / time.Duration(opt.Clients))
		wg.Go(func() { r.streamClient(ctx, c, at) })
	}
	for i := range opt.Snapshots {
		// Evenly spaced, plus a random offset within the slot: a fixed
		// spacing that is a multiple of the frame interval would hit the
		// same phase of every frame's fan-out and measure only that phase.
		slot := opt.Duration / time.Duration(opt.Snapshots)
		at := r.mStart.Add(slot*time.Duration(i) + time.Duration(rand.Int64N(int64(slot)+1)))
		wg.Go(func() { r.snapshot(ctx, at) })
	}
	var m measurement
	wg.Go(func() { m = r.measure(ctx, pid) })
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("run interrupted: %w", err)
	}
	return r.report(m, pid, pidNote), nil
}

// discoverPID finds the server by the port it listens on; failing that the
// run goes on without server figures and the report says why.
func discoverPID(port int) (int, string) {
	pids, err := findListener(port)
	switch {
	case err != nil:
		return 0, fmt.Sprintf("server process not found: %v; give -pid", err)
	case len(pids) == 0:
		return 0, fmt.Sprintf("no process found listening on port %d (another user's? run as that user or root, or give -pid)", port)
	case len(pids) > 1:
		return 0, fmt.Sprintf("several processes listen on port %d (%v); give -pid", port, pids)
	}
	return pids[0], ""
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (r *runner) streamClient(ctx context.Context, c *clientStats, at time.Time) {
	if !sleepUntil(ctx, at) {
		return
	}
	conn, err := r.dialer().DialContext(ctx, "tcp", r.stream.dialAddr)
	if err != nil {
		c.connectErr = err.Error()
		return
	}
	defer conn.Close()
	// Closing is what unblocks a read at once when the run is interrupted.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	var src io.Reader = conn
	if c.slow {
		src = newThrottle(conn, float64(r.opt.SlowRate), r.mEnd, ctx.Done())
	}
	br := bufio.NewReaderSize(src, r.opt.bufferSize)
	conn.SetDeadline(time.Now().Add(r.opt.ConnectTimeout))
	boundary, err := r.openStream(conn, br)
	if err != nil {
		c.connectErr = err.Error()
		return
	}
	c.connected = true
	// The deadline ends the client exactly when the window ends, even if
	// the server sends nothing.
	conn.SetDeadline(r.mEnd)

	pr := newPartReader(br, boundary, r.opt.maxPartSize)
	lat := &r.fastLat
	if c.slow {
		lat = &r.slowLat
	}
	limit := 1000 + int(float64(maxPartsPerSec)*r.mEnd.Sub(r.start).Seconds())
	var (
		lastTS   int64 = -1
		consumed int64
	)
	for range limit {
		p, err := pr.next()
		if err != nil {
			if isParseError(err) {
				c.parseErrors++
				r.noteParseError(c.id, err)
				continue
			}
			if ctx.Err() == nil && time.Now().Before(r.mEnd) {
				c.lostErr = describeEnd(err)
			}
			return
		}
		if p.received.Before(r.mStart) {
			lastTS, consumed = p.timestamp, pr.consumed
			continue
		}
		if !p.received.Before(r.mEnd) {
			return
		}
		c.bytes += pr.consumed - consumed
		consumed = pr.consumed
		if p.timestamp == lastTS {
			c.repeats++
		} else {
			c.frames++
			lat.record(p.received.UnixMicro() - p.timestamp)
		}
		lastTS = p.timestamp
	}
	c.partLimit = true
}

func describeEnd(err error) string {
	if err == io.EOF {
		return "server closed the stream"
	}
	return err.Error()
}

// openStream sends the request and reads the response head, returning the
// multipart boundary. The head is read once per connection, so the
// allocating textproto parser is fine here.
func (r *runner) openStream(conn net.Conn, br *bufio.Reader) (string, error) {
	if _, err := conn.Write(r.stream.request); err != nil {
		return "", fmt.Errorf("sending request: %w", err)
	}
	tp := textproto.NewReader(br)
	status, err := tp.ReadLine()
	if err != nil {
		return "", fmt.Errorf("reading response: %w", err)
	}
	proto, code, _ := strings.Cut(status, " ")
	if !strings.HasPrefix(proto, "HTTP/1.") {
		return "", fmt.Errorf("not an HTTP/1.x response: %q", status)
	}
	hdr, err := tp.ReadMIMEHeader()
	if !strings.HasPrefix(code, "200") {
		if strings.HasPrefix(code, "401") {
			return "", fmt.Errorf("HTTP %s (give -user and -password)", code)
		}
		return "", statusError(code, hdr, br)
	}
	if err != nil {
		return "", fmt.Errorf("reading response headers: %w", err)
	}
	if te := hdr.Get("Transfer-Encoding"); te != "" && !strings.EqualFold(te, "identity") {
		return "", fmt.Errorf("response has Transfer-Encoding %q; the stream must be sent raw", te)
	}
	ct := hdr.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !strings.EqualFold(mt, "multipart/x-mixed-replace") {
		return "", fmt.Errorf("Content-Type %q is not multipart/x-mixed-replace", ct)
	}
	b := params["boundary"]
	if b == "" || len(b) > maxBoundaryLen {
		return "", fmt.Errorf("Content-Type %q: missing or over-long boundary", ct)
	}
	return b, nil
}

// statusError describes an answer other than 200 with what the server said
// why: the first line of a text body (e.g. "too many clients: ..."), or
// that it sent its placeholder picture (the source is offline).
func statusError(status string, hdr textproto.MIMEHeader, body io.Reader) error {
	if hdr.Get("X-Placeholder") != "" {
		return fmt.Errorf("HTTP %s with the placeholder picture (the source is offline)", status)
	}
	if mt, _, _ := mime.ParseMediaType(hdr.Get("Content-Type")); mt == "text/plain" {
		b, _ := io.ReadAll(io.LimitReader(body, 200))
		if line, _, _ := strings.Cut(string(b), "\n"); strings.TrimSpace(line) != "" {
			return fmt.Errorf("HTTP %s: %s", status, strings.TrimSpace(line))
		}
	}
	return fmt.Errorf("HTTP %s", status)
}

func (r *runner) noteParseError(id int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.parseSamples) < maxSamples {
		r.parseSamples = append(r.parseSamples, fmt.Sprintf("client %d: %v", id, err))
	}
}

func (r *runner) snapshot(ctx context.Context, at time.Time) {
	if !sleepUntil(ctx, at) {
		return
	}
	t0 := time.Now()
	if err := r.fetchSnapshot(ctx); err != nil {
		if ctx.Err() != nil {
			return
		}
		r.snapFailed.Add(1)
		r.mu.Lock()
		if len(r.snapSamples) < maxSamples {
			r.snapSamples = append(r.snapSamples, err.Error())
		}
		r.mu.Unlock()
		return
	}
	r.snapOK.Add(1)
	r.snapLat.record(time.Since(t0).Microseconds())
}

// fetchSnapshot fetches one snapshot on a fresh connection, as DWC and
// timelapse tools do, and checks that the body is a whole JPEG.
func (r *runner) fetchSnapshot(ctx context.Context) error {
	conn, err := (&net.Dialer{Timeout: snapshotTimeout}).DialContext(ctx, "tcp", r.snap.dialAddr)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetDeadline(time.Now().Add(snapshotTimeout))
	if _, err := conn.Write(r.snap.request); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return statusError(resp.Status, textproto.MIMEHeader(resp.Header), resp.Body)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "image/jpeg" {
		return fmt.Errorf("Content-Type %q, want image/jpeg", resp.Header.Get("Content-Type"))
	}
	if resp.ContentLength < 0 {
		return errors.New("no Content-Length")
	}
	if resp.ContentLength > int64(r.opt.maxPartSize) {
		return fmt.Errorf("Content-Length %d above the limit", resp.ContentLength)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading body: %w", err)
	}
	n := len(body)
	if n < 4 || body[0] != 0xFF || body[1] != 0xD8 || body[n-2] != 0xFF || body[n-1] != 0xD9 {
		return fmt.Errorf("body of %d bytes is not a whole JPEG (FF D8 ... FF D9)", n)
	}
	return nil
}

// measurement is what was sampled from /proc over the window.
type measurement struct {
	window                time.Duration
	selfCPU               time.Duration
	serverCPU             time.Duration
	peakRSSKiB, hwmKiB    int64
	threadsMax, threadEnd int
	serverErr             error
}

func (r *runner) measure(ctx context.Context, pid int) measurement {
	var m measurement
	if !sleepUntil(ctx, r.mStart) {
		return m
	}
	t0, self0 := time.Now(), selfCPU()
	var cpu0 time.Duration
	if pid > 0 {
		cpu0, _, m.serverErr = procCPU(pid)
		r.sampleMemory(pid, &m)
	}
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	end := time.NewTimer(time.Until(r.mEnd))
	defer end.Stop()
	samples := int(r.opt.Duration/(100*time.Millisecond)) + 2
loop:
	for range samples {
		select {
		case <-ticker.C:
			if pid > 0 && m.serverErr == nil {
				r.sampleMemory(pid, &m)
			}
		case <-end.C:
			break loop
		case <-ctx.Done():
			return m
		}
	}
	m.window, m.selfCPU = time.Since(t0), selfCPU()-self0
	if pid > 0 && m.serverErr == nil {
		var cpu1 time.Duration
		cpu1, m.threadEnd, m.serverErr = procCPU(pid)
		m.serverCPU = cpu1 - cpu0
		if st, err := procStatus(pid); err == nil {
			m.hwmKiB = st.hwmKiB
			m.peakRSSKiB = max(m.peakRSSKiB, st.rssKiB)
		}
	}
	if m.serverErr != nil && errors.Is(m.serverErr, os.ErrNotExist) {
		m.serverErr = fmt.Errorf("server process %d exited during the run", pid)
	}
	return m
}

func (r *runner) sampleMemory(pid int, m *measurement) {
	st, err := procStatus(pid)
	if err != nil {
		m.serverErr = err
		return
	}
	m.peakRSSKiB = max(m.peakRSSKiB, st.rssKiB)
	m.threadsMax = max(m.threadsMax, st.threads)
}

// dialer opens stream connections, with -rcvbuf's receive buffer. A small
// one models a viewer whose link, not its own kernel, holds bytes back:
// what a reader that is merely slow leaves in its receive buffer would
// otherwise count as the server's delay.
func (r *runner) dialer() *net.Dialer {
	d := &net.Dialer{Timeout: r.opt.ConnectTimeout}
	if n := r.opt.RcvBuf; n > 0 {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n) }); err != nil {
				return err
			}
			return serr
		}
	}
	return d
}

// throttle makes a client read at most rate bytes per second, averaged from
// its start, the way a viewer on a slow link drains its socket.
type throttle struct {
	r     io.Reader
	rate  float64
	chunk int
	start time.Time
	n     int64
	stop  time.Time
	done  <-chan struct{}
	timer *time.Timer
}

func newThrottle(r io.Reader, rate float64, stop time.Time, done <-chan struct{}) *throttle {
	// Reading in twentieths of a second's budget keeps the pace smooth
	// instead of bursting a whole second's worth at once.
	return &throttle{r: r, rate: rate, chunk: max(1, int(rate/20)), start: time.Now(), stop: stop, done: done,
		timer: time.NewTimer(time.Hour)}
}

func (t *throttle) Read(p []byte) (int, error) {
	if len(p) > t.chunk {
		p = p[:t.chunk]
	}
	n, err := t.r.Read(p)
	t.n += int64(n)
	due := t.start.Add(time.Duration(float64(t.n) / t.rate * float64(time.Second)))
	if d := time.Until(due); d > 0 && time.Now().Before(t.stop) {
		t.timer.Reset(min(d, time.Until(t.stop)))
		select {
		case <-t.timer.C:
		case <-t.done:
		}
	}
	return n, err
}
