package dsf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Request is one HTTP request DWS forwards to an endpoint
// (ReceivedHttpRequest). The method and path are implied by the endpoint.
type Request struct {
	SessionID   int               `json:"sessionId"` // -1 without a DWC session
	Queries     map[string]string `json:"queries"`
	Headers     map[string]string `json:"headers"`
	ContentType *string           `json:"contentType"`
	Body        string            `json:"body"`
}

// Header returns a header's value. DWS 3.5 lowercases the first letter of
// every name and HTTP/2 clients send lower case, so names match in any case.
func (r *Request) Header(name string) string { return lookupFold(r.Headers, name) }

// Query returns a query parameter's value, name matched in any case.
func (r *Request) Query(name string) string { return lookupFold(r.Queries, name) }

func lookupFold(m map[string]string, name string) string {
	if v, ok := m[name]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// ResponseType says how DWS turns Response.Body into the HTTP response.
type ResponseType string

// Response types, in the lower case every DWS version parses.
const (
	StatusOnly ResponseType = "statuscode" // no body
	PlainText  ResponseType = "plaintext"
	JSONText   ResponseType = "json" // Body holds JSON text
	File       ResponseType = "file" // Body is an absolute path DWS (user dsf) reads; it is not deleted
	URI        ResponseType = "uri"  // DWS proxies the URL in Body
)

// Response is what the endpoint answers (SendHttpResponse).
type Response struct {
	StatusCode int          `json:"statusCode"`
	Body       string       `json:"response"`
	Type       ResponseType `json:"responseType"`
}

// Handler answers one forwarded request. ctx ends when the endpoint closes.
type Handler func(ctx context.Context, r *Request) Response

// Timeouts of an endpoint connection. DWS sends the request as soon as it
// has connected, and closes once it has written the HTTP body; it has no
// timeouts of its own, so these keep a stuck peer from holding a goroutine.
const (
	requestTimeout = 10 * time.Second
	drainTimeout   = 30 * time.Second
)

// Limits of what endpoint connections may hold, shared by every endpoint of
// a session. Our endpoints are GETs that need no body, and DWS forwards
// what any browser on the network sends (Kestrel allows 30 MB bodies and
// any number of requests at once): without these, ten 16 MiB requests
// took the process to 312 MiB.
const (
	// MaxRequestSize bounds one forwarded request. Kestrel caps request
	// headers at 32 KiB, and JSON escaping can multiply that by six.
	MaxRequestSize = 1 << 20
	// maxBuffered bounds the bytes of all requests being read at once.
	maxBuffered = 4 << 20
	// maxActive requests are read and handled at once; more are answered
	// 503 at once.
	maxActive = 16
	// maxOpen bounds the connections held at all, including those refused
	// and those waiting for DWS to finish; more wait in the listen backlog
	// until one ends (each is bounded in time), so none goes unanswered.
	maxOpen = 64
	// maxDrained bounds what is read and thrown away after answering, so
	// that DWS, which writes the whole request before it reads, gets the
	// answer.
	maxDrained = 64 << 20
	// reserveStep is how much of maxBuffered a request takes at a time.
	reserveStep = 64 << 10
)

// gate counts what the endpoints of one session hold.
type gate struct {
	maxRequest, maxBuffered int64
	maxActive               int
	open                    chan struct{} // a token per connection held

	mu       sync.Mutex
	active   int
	buffered int64
}

func newGate() *gate {
	return &gate{maxRequest: MaxRequestSize, maxBuffered: maxBuffered, maxActive: maxActive,
		open: make(chan struct{}, maxOpen)}
}

func (g *gate) take(n *int, limit int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if *n >= limit {
		return false
	}
	*n++
	return true
}

func (g *gate) give(n *int) {
	g.mu.Lock()
	*n--
	g.mu.Unlock()
}

func (g *gate) reserve(n int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.buffered+n > g.maxBuffered {
		return false
	}
	g.buffered += n
	return true
}

func (g *gate) release(n int64) {
	g.mu.Lock()
	g.buffered -= n
	g.mu.Unlock()
}

// Refusals, as DWS passes them on to the browser.
var (
	errRequestTooLarge = errors.New("request too large for usbStream's endpoint")
	errBusy            = errors.New("usbStream is busy with other large requests to its endpoints; try again")
)

// Endpoint listens on the UNIX socket DCS assigned to a custom HTTP
// endpoint and answers each DWS connection with Handler.
type Endpoint struct {
	path    string
	ln      *net.UnixListener
	handler Handler
	log     limitedLog
	gate    *gate
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// listenEndpoint listens on path, replacing a stale socket file there (DCS
// never creates or removes them), and serves until Close. Anything else at
// path (a file, a folder, a socket somebody listens on) is left alone and
// refused. The socket is made group read-writable so that DWS, running as
// user dsf, can connect when the plugin runs as another member of group
// dsf.
func listenEndpoint(path string, h Handler, log limitedLog, g *gate) (*Endpoint, error) {
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// Close must not remove a file a newer listener may own; we remove it
	// ourselves.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		os.Remove(path)
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Endpoint{path: path, ln: ln, handler: h, log: log, gate: g, ctx: ctx, cancel: cancel}
	e.wg.Go(e.acceptLoop)
	return e, nil
}

// removeStaleSocket deletes path only if it is a socket nobody listens on:
// a path DCS names could be anything, and deleting a file or a folder
// there, or another process's live socket, would lose what is not ours.
func removeStaleSocket(path string) error {
	before, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot check the endpoint socket path: %w", err)
	}
	if before.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s is %s, not a socket; leaving it alone (remove it if it is not needed)", path, describeMode(before.Mode()))
	}
	probe, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		probe.Close()
		return fmt.Errorf("another process is listening on the endpoint socket %s; leaving it alone", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("cannot tell whether the endpoint socket %s is in use; leaving it alone: %w", path, err)
	}
	// The probe took time: make sure it is still the same stale socket.
	if now, err := os.Lstat(path); err != nil || !os.SameFile(before, now) {
		return fmt.Errorf("the endpoint socket %s changed while it was checked; leaving it alone", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the stale endpoint socket: %w", err)
	}
	return nil
}

func describeMode(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return "a regular file"
	case fs.ModeDir:
		return "a folder"
	case fs.ModeSymlink:
		return "a symbolic link"
	case fs.ModeNamedPipe:
		return "a FIFO"
	case fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice:
		return "a device"
	}
	return "not a socket (" + m.Type().String() + ")"
}

// Path is the socket file.
func (e *Endpoint) Path() string { return e.path }

// Alive reports whether the listener still accepts.
func (e *Endpoint) Alive() bool { return e.ctx.Err() == nil }

func (e *Endpoint) acceptLoop() {
	backoff := 5 * time.Millisecond
	for {
		select {
		case e.gate.open <- struct{}{}:
		case <-e.ctx.Done():
			return
		}
		conn, err := e.ln.AcceptUnix()
		if err != nil {
			<-e.gate.open
			if e.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait instead of
			// spinning on the error, and try again.
			e.log.warn("accepting on the endpoint socket failed", zap.String("socket", e.path), zap.Error(err))
			select {
			case <-time.After(backoff):
			case <-e.ctx.Done():
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		e.wg.Go(func() {
			defer func() { <-e.gate.open }()
			e.serve(conn)
		})
	}
}

// serve answers one DWS connection: one request, one response, then wait
// for DWS to close (it does once the HTTP body is out). A connection that
// closes without a request is DCS probing whether we are alive.
func (e *Endpoint) serve(conn *net.UnixConn) {
	defer conn.Close()
	if !e.gate.take(&e.gate.active, e.gate.maxActive) {
		e.log.warn("too many requests to the endpoints at once; answering 503", zap.String("socket", e.path),
			zap.Int("limit", e.gate.maxActive))
		e.respond(conn, Response{StatusCode: 503, Type: PlainText, Body: errBusy.Error()})
		e.drain(conn, requestTimeout)
		return
	}
	resp, ok := e.handle(conn)
	e.gate.give(&e.gate.active)
	if !ok {
		return
	}
	if !e.respond(conn, resp) {
		return
	}
	e.drain(conn, drainTimeout)
}

// handle reads the request and runs the handler. ok is false when there is
// nobody to answer (the peer left, or the endpoint is closing).
func (e *Endpoint) handle(conn *net.UnixConn) (resp Response, ok bool) {
	// Reads end early when the endpoint closes. The deadline is set before
	// the hook is armed, so a hook that fires at once is not overridden.
	conn.SetReadDeadline(time.Now().Add(requestTimeout))
	stop := context.AfterFunc(e.ctx, func() { conn.SetReadDeadline(time.Now()) })
	var reserved int64
	defer func() { e.gate.release(reserved) }()
	mr := newMessageReader(conn)
	mr.max = int(e.gate.maxRequest)
	mr.grow = func(n int) error {
		for int64(n) > reserved {
			if !e.gate.reserve(reserveStep) {
				return errBusy
			}
			reserved += reserveStep
		}
		return nil
	}
	raw, err := mr.next()
	stop()
	switch {
	case errors.Is(err, ErrMessageTooLarge):
		e.log.warn("refused an oversized request from DWS", zap.String("socket", e.path), zap.Int("limit", mr.max))
		return Response{StatusCode: 413, Type: PlainText,
			Body: fmt.Sprintf("%v (the limit is %d bytes)", errRequestTooLarge, mr.max)}, true
	case errors.Is(err, errBusy):
		e.log.warn("too many large requests to the endpoints at once; answering 503", zap.String("socket", e.path),
			zap.Int64("limitBytes", e.gate.maxBuffered))
		return Response{StatusCode: 503, Type: PlainText, Body: errBusy.Error()}, true
	case err != nil:
		if err != io.EOF && e.ctx.Err() == nil {
			e.log.log.Debug("endpoint connection ended without a request", zap.String("socket", e.path), zap.Error(err))
		}
		return Response{}, false
	}
	var req Request
	if err := json.Unmarshal(raw, &req); err != nil {
		e.log.warn("undecodable request from DWS", zap.String("socket", e.path), zap.String("error", clipErr(err)),
			zap.String("request", clip(string(raw))))
		return Response{StatusCode: 400, Type: PlainText, Body: "bad request from the web server: " + clipErr(err)}, true
	}
	return e.handler(e.ctx, &req), true
}

func (e *Endpoint) respond(conn *net.UnixConn, resp Response) bool {
	if resp.Type == "" {
		resp.Type = PlainText
	}
	if resp.StatusCode == 0 {
		resp.StatusCode = 200
	}
	out, _ := json.Marshal(resp)
	conn.SetWriteDeadline(time.Now().Add(requestTimeout))
	if _, err := conn.Write(out); err != nil {
		e.log.log.Debug("writing the endpoint response failed", zap.String("socket", e.path), zap.Error(err))
		return false
	}
	return true
}

// drain reads and throws away what DWS still sends until it closes: the
// rest of a request answered before it was read, then nothing.
func (e *Endpoint) drain(conn *net.UnixConn, d time.Duration) {
	conn.SetReadDeadline(time.Now().Add(d))
	stop := context.AfterFunc(e.ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	io.Copy(io.Discard, io.LimitReader(conn, maxDrained))
}

// Close stops accepting, ends connections in progress and removes the
// socket file.
func (e *Endpoint) Close() error {
	e.cancel()
	err := e.ln.Close()
	e.wg.Wait()
	if rmErr := os.Remove(e.path); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) && err == nil {
		err = rmErr
	}
	return err
}
