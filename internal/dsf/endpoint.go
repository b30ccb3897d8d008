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

// Endpoint listens on the UNIX socket DCS assigned to a custom HTTP
// endpoint and answers each DWS connection with Handler.
type Endpoint struct {
	path    string
	ln      *net.UnixListener
	handler Handler
	log     *zap.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// ListenEndpoint replaces any stale socket file at path (DCS never creates
// or removes them), listens, and serves until Close. The socket is made
// group read-writable so that DWS, running as user dsf, can connect when
// the plugin runs as another member of group dsf.
func ListenEndpoint(path string, h Handler, log *zap.Logger) (*Endpoint, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("removing the stale endpoint socket: %w", err)
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
	e := &Endpoint{path: path, ln: ln, handler: h, log: log, ctx: ctx, cancel: cancel}
	e.wg.Go(e.acceptLoop)
	return e, nil
}

// Path is the socket file.
func (e *Endpoint) Path() string { return e.path }

// Alive reports whether the listener still accepts.
func (e *Endpoint) Alive() bool { return e.ctx.Err() == nil }

func (e *Endpoint) acceptLoop() {
	backoff := 5 * time.Millisecond
	for {
		conn, err := e.ln.AcceptUnix()
		if err != nil {
			if e.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait instead of
			// spinning on the error, and try again.
			e.log.Warn("accepting on the endpoint socket failed", zap.String("socket", e.path), zap.Error(err))
			select {
			case <-time.After(backoff):
			case <-e.ctx.Done():
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		e.wg.Go(func() { e.serve(conn) })
	}
}

// serve answers one DWS connection: one request, one response, then wait
// for DWS to close (it does once the HTTP body is out). A connection that
// closes without a request is DCS probing whether we are alive.
func (e *Endpoint) serve(conn *net.UnixConn) {
	defer conn.Close()
	// Reads end early when the endpoint closes. The deadline is set before
	// the hook is armed, so a hook that fires at once is not overridden.
	conn.SetReadDeadline(time.Now().Add(requestTimeout))
	stop := context.AfterFunc(e.ctx, func() { conn.SetReadDeadline(time.Now()) })
	raw, err := newMessageReader(conn).next()
	stop()
	if err != nil {
		if err != io.EOF && e.ctx.Err() == nil {
			e.log.Debug("endpoint connection ended without a request", zap.String("socket", e.path), zap.Error(err))
		}
		return
	}
	var req Request
	var resp Response
	if err := json.Unmarshal(raw, &req); err != nil {
		resp = Response{StatusCode: 400, Type: PlainText, Body: "bad request from the web server: " + err.Error()}
		e.log.Warn("undecodable request from DWS", zap.String("socket", e.path), zap.Error(err))
	} else {
		resp = e.handler(e.ctx, &req)
	}
	if resp.Type == "" {
		resp.Type = PlainText
	}
	if resp.StatusCode == 0 {
		resp.StatusCode = 200
	}
	out, _ := json.Marshal(resp)
	conn.SetWriteDeadline(time.Now().Add(requestTimeout))
	if _, err := conn.Write(out); err != nil {
		e.log.Debug("writing the endpoint response failed", zap.String("socket", e.path), zap.Error(err))
		return
	}
	conn.SetReadDeadline(time.Now().Add(drainTimeout))
	stop = context.AfterFunc(e.ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	io.Copy(io.Discard, io.LimitReader(conn, 1<<20))
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
