// Package httpapi serves the frames over HTTP: the multipart stream, single
// snapshots, the status document and the viewer page, with optional basic
// auth and CORS. It knows the hub, not where frames come from.
package httpapi

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"usbstream/internal/frame"
	"usbstream/internal/status"
	"usbstream/internal/stream"
)

//go:embed web/index.html
var viewerPage []byte

// Options configure the HTTP side.
type Options struct {
	// User and Password enable HTTP basic auth on every route when User is set.
	User, Password string
	// Token, when set, opens the stream, snapshot and viewer routes to a
	// request that carries it (see Access).
	Token string
	// AllowOrigin, when set, is sent as Access-Control-Allow-Origin.
	AllowOrigin string
	// ResponseTimeout bounds the writing of every answer but a stream;
	// 0 means DefaultResponseTimeout.
	ResponseTimeout time.Duration
	// SnapshotWait bounds how long a snapshot waits for a fresh frame;
	// 0 means stream.DefaultSnapshotWait.
	SnapshotWait time.Duration
	// Version is shown in the Server header.
	Version string
	// Cameras lists the cameras and what they support, for /cameras.
	Cameras func() (any, error)
	// MaxClients bounds the streams and snapshots served at once; 0 means
	// no bound. SetMaxClients changes it later.
	MaxClients int
	// MaxClientsPerIP bounds them per client address; 0 means no bound.
	// SetMaxClientsPerIP changes it later.
	MaxClientsPerIP int
	// AllowedHosts, when not empty, lists the host names a request's Host
	// header may name (see SetAllowedHosts).
	AllowedHosts []string
}

// MaxURLLength bounds a request's URL. Real clients send a few dozen
// bytes; net/http's header limit would let a 16 KiB URL through.
const MaxURLLength = 2048

// minFPSCap and maxFPSCap bound ?fps. Below one frame in 100 s the
// keep-alive repeats are all a viewer would see, and the interval of a
// tinier rate does not fit in a Duration.
const (
	minFPSCap = 0.01
	maxFPSCap = 1000.0
)

// DefaultResponseTimeout bounds the writing of every answer but a stream
// (whose parts have their own deadline): a client that sends requests and
// never reads the answers cannot hold its connection.
const DefaultResponseTimeout = 10 * time.Second

// maxSnapshotDelay bounds ?max_delay so that a typo cannot make the check
// meaningless; an hour-old frame is never what a timelapse wants.
const maxSnapshotDelay = time.Hour

// Server answers HTTP requests from the hub's frames.
type Server struct {
	hub         *stream.Hub
	clients     *stream.Registry
	status      func() status.Status
	placeholder func(reason string) *frame.Frame
	opt         Options
	log         *zap.Logger
	access      atomic.Pointer[access] // replaced whole by a config reload (see auth.go)
	maxClients  atomic.Int64
	maxPerIP    atomic.Int64
	hosts       atomic.Pointer[hostList]
	conns       connections
}

// New returns a server. status builds the /status document; placeholder
// renders the frame sent with a 503 when no fresh frame can be had.
func New(hub *stream.Hub, clients *stream.Registry, status func() status.Status,
	placeholder func(reason string) *frame.Frame, opt Options, log *zap.Logger) *Server {
	if opt.ResponseTimeout <= 0 {
		opt.ResponseTimeout = DefaultResponseTimeout
	}
	s := &Server{hub: hub, clients: clients, status: status, placeholder: placeholder, opt: opt, log: log,
		conns: connections{idle: make(map[net.Conn]time.Time)}}
	s.SetAccess(Access{User: opt.User, Password: opt.Password, Token: opt.Token, AllowOrigin: opt.AllowOrigin})
	s.SetMaxClients(opt.MaxClients)
	s.SetMaxClientsPerIP(opt.MaxClientsPerIP)
	s.SetAllowedHosts(opt.AllowedHosts)
	return s
}

// SetMaxClients changes the client limit for new requests (0: none).
func (s *Server) SetMaxClients(n int) { s.maxClients.Store(int64(n)) }

// SetMaxClientsPerIP changes the limit per client address for new requests
// (0: none).
func (s *Server) SetMaxClientsPerIP(n int) { s.maxPerIP.Store(int64(n)) }

// admit registers the request as a client, or answers 503 when a client
// limit is reached. Clients already connected keep their streams; a
// browser retries the image later.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, kind string, maxFPS float64) (*stream.Client, bool) {
	lim := stream.Limits{Total: int(s.maxClients.Load()), PerHost: int(s.maxPerIP.Load())}
	c, err := s.clients.Admit(r.RemoteAddr, r.URL.RequestURI(), kind, maxFPS, lim)
	if err == nil {
		return c, true
	}
	msg := fmt.Sprintf("too many clients: usbStream serves at most %d at once (-maxclients); try again later", lim.Total)
	if errors.Is(err, stream.ErrHostFull) {
		msg = fmt.Sprintf("too many clients from your address: usbStream serves at most %d at once to one address (-maxclientsperip); close another view or try again later", lim.PerHost)
	}
	s.log.Debug("client refused", zap.String("remote", r.RemoteAddr), zap.String("url", r.URL.RequestURI()), zap.Error(err))
	w.Header().Set("Retry-After", "5")
	http.Error(w, msg, http.StatusServiceUnavailable)
	return nil, false
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Server", "usbStream/"+s.opt.Version)
	acc := s.access.Load()
	rt := classify(r.URL.Path, r.URL.Query())
	if origin := acc.corsOrigin(rt); origin != "" {
		h.Set("Access-Control-Allow-Origin", origin)
		if origin != "*" {
			h.Add("Vary", "Origin")
			// A named origin (DWC's page) may send the basic-auth
			// credentials; browsers refuse credentials with "*".
			h.Set("Access-Control-Allow-Credentials", "true")
		}
	}
	// The answer's deadline; a stream clears it when it takes the
	// connection over, a snapshot sets its own once it has its frame.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opt.ResponseTimeout))
	if len(r.TransferEncoding) > 0 {
		// Our routes take no body. A request framed by Transfer-Encoding
		// (perhaps with a Content-Length too, RFC 9112 §6.1) is answered and
		// the connection closed, so that no request smuggled after it is read.
		h.Set("Connection", "close")
	}
	if !s.hosts.Load().allows(r.Host) {
		refuseHost(w)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		// Preflights carry no credentials, so they are answered before auth.
		h.Set("Allow", "GET, HEAD, OPTIONS")
		if acc.allowOrigin != "" && acc.allowOrigin != "none" {
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization")
			h.Set("Access-Control-Max-Age", "600")
		}
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed: usbStream only serves GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	if len(r.RequestURI) > MaxURLLength {
		http.Error(w, fmt.Sprintf("URL too long: at most %d bytes", MaxURLLength), http.StatusRequestURITooLong)
		return
	}
	g := acc.admit(r, rt)
	if g == nil {
		acc.refuse(w, rt)
		return
	}
	// From here on the request's URL is what the log and the client list
	// see: without the token.
	r = hideToken(r)

	switch rt {
	case routeStream:
		r, done := underGrant(r, g)
		defer done()
		s.serveStream(w, r)
	case routeSnapshot:
		r, done := underGrant(r, g)
		defer done()
		s.serveSnapshot(w, r)
	case routeStatus:
		s.serveJSON(w, s.status())
	case routeCameras:
		if s.opt.Cameras == nil {
			http.Error(w, "camera discovery is not available", http.StatusNotFound)
			return
		}
		list, err := s.opt.Cameras()
		// The answer's deadline is for sending it, and starts now: listing
		// the cameras (every format, size and rate, by ioctl) took seconds
		// in the emulated arm64 VM, and a slow device must not turn its
		// answer into a cut connection.
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opt.ResponseTimeout))
		if err != nil {
			http.Error(w, "cannot list cameras: "+err.Error(), http.StatusInternalServerError)
			return
		}
		s.serveJSON(w, list)
	case routeViewer:
		page := viewerPage
		if g == acc.token {
			// Opened with the token (an iframe has no other way in): its
			// own requests must carry it too.
			page = acc.viewer
		}
		noCache(h)
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(page)))
		w.Write(page)
	case routeFavicon:
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "not found: "+r.URL.Path+" (try /, /stream, /snapshot or /status)", http.StatusNotFound)
	}
}

func noCache(h http.Header) {
	h.Set("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "Thu, 01 Jan 1970 00:00:00 GMT")
}

// param returns a query parameter without the "_<random>" DWC's useFix
// option appends to the end of a URL that already has a query
// ("?max_delay=0_0.31").
func param(r *http.Request, name string) string {
	v, _, _ := strings.Cut(r.URL.Query().Get(name), "_")
	return v
}

// badRequest answers a malformed value of a parameter we do understand.
func badRequest(w http.ResponseWriter, format string, args ...any) {
	http.Error(w, fmt.Sprintf(format, args...), http.StatusBadRequest)
}

func setStreamHeaders(h http.Header) {
	noCache(h)
	h.Set("Content-Type", stream.ContentType)
	h.Set("Connection", "close")
}

func (s *Server) serveStream(w http.ResponseWriter, r *http.Request) {
	var maxFPS float64
	if v := param(r, "fps"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f >= minFPSCap && f <= maxFPSCap) {
			badRequest(w, "fps=%q: want frames per second from %g to %g, e.g. fps=5 or fps=0.5", v, minFPSCap, maxFPSCap)
			return
		}
		maxFPS = f
	}
	h := w.Header()
	if r.Method == http.MethodHead {
		setStreamHeaders(h)
		w.WriteHeader(http.StatusOK)
		return
	}
	c, ok := s.admit(w, r, "stream", maxFPS)
	if !ok {
		return
	}
	defer s.clients.Remove(c)
	setStreamHeaders(h)
	log := s.log.With(zap.Uint64("client", c.ID), zap.String("remote", r.RemoteAddr))
	log.Debug("stream client connected", zap.String("url", r.URL.RequestURI()), zap.String("userAgent", r.UserAgent()))

	conn, err := s.takeOver(w, r)
	if err != nil {
		log.Debug("stream client lost before the first frame", zap.Error(err))
		return
	}
	defer conn.Close()
	if _, hijacked := conn.(net.Conn); hijacked {
		s.conns.addStream(1) // net/http no longer counts it
		defer s.conns.addStream(-1)
	}
	// Closing the socket is what unblocks a write to a stalled client at
	// shutdown; waiting for its write deadline would take seconds.
	stop := context.AfterFunc(r.Context(), func() { conn.Close() })
	defer stop()

	err = s.hub.Serve(r.Context(), conn, c, stream.ReaderOptions{MaxFPS: maxFPS})
	info := c.Info(time.Now())
	fields := []zap.Field{zap.Uint64("frames", info.Frames), zap.Uint64("skipped", info.Skipped),
		zap.Uint64("bytes", info.Bytes), zap.Duration("connected", time.Since(c.ConnectedAt).Round(time.Millisecond))}
	if err != nil && r.Context().Err() == nil {
		fields = append(fields, zap.NamedError("reason", err))
	}
	log.Debug("stream client disconnected", fields...)
}

// streamConn is what a stream writes to after the response head is sent.
type streamConn interface {
	stream.Conn
	Close() error
}

// takeOver writes the response head and returns the raw connection, so
// each part goes out in one writev with no chunked-encoding framing. Where
// the connection cannot be taken over (HTTP/2), it falls back to writing
// through the ResponseWriter.
func (s *Server) takeOver(w http.ResponseWriter, r *http.Request) (streamConn, error) {
	rc := http.NewResponseController(w)
	conn, _, err := rc.Hijack()
	if errors.Is(err, http.ErrNotSupported) {
		w.WriteHeader(http.StatusOK)
		return &flushingConn{w: w, rc: rc}, rc.Flush()
	}
	if err != nil {
		return nil, err
	}
	// The server's read deadline for the request must not end the stream.
	conn.SetDeadline(time.Time{})
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	w.Header().Write(&head)
	head.WriteString("\r\n")
	conn.SetWriteDeadline(time.Now().Add(stream.DefaultWriteTimeout))
	if _, err := conn.Write(head.Bytes()); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// flushingConn adapts a ResponseWriter for streams that cannot be hijacked.
type flushingConn struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (c *flushingConn) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err == nil {
		err = c.rc.Flush()
	}
	return n, err
}

func (c *flushingConn) SetWriteDeadline(t time.Time) error { return c.rc.SetWriteDeadline(t) }
func (c *flushingConn) Close() error                       { return nil }

// ServeSnapshot answers r as /snapshot does, without basic auth: for a
// caller that has decided who may see the picture itself (the DSF bridge).
// r's RemoteAddr and URL are what the client list shows.
func (s *Server) ServeSnapshot(w http.ResponseWriter, r *http.Request) { s.serveSnapshot(w, r) }

func (s *Server) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	maxDelay := time.Duration(-1)
	if v := param(r, "max_delay"); v != "" {
		// Compared in milliseconds: a huge value must not wrap around
		// when turned into a Duration.
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms < 0 || ms > maxSnapshotDelay.Milliseconds() {
			badRequest(w, "max_delay=%q: want milliseconds from 0 to %d (0: a frame captured after this request)",
				v, maxSnapshotDelay.Milliseconds())
			return
		}
		maxDelay = time.Duration(ms) * time.Millisecond
	}
	c, ok := s.admit(w, r, "snapshot", 0)
	if !ok {
		return
	}
	defer s.clients.Remove(c)
	f, err := s.hub.Snapshot(r.Context(), stream.SnapshotPolicy{
		MaxDelay: maxDelay, Wait: s.opt.SnapshotWait, Placeholder: s.placeholder})
	if err != nil {
		// Client gone or shutting down: cut the connection rather than let
		// net/http answer "200 OK" with an empty body, which wget (and so
		// DuetLapse3) would save as an image.
		panic(http.ErrAbortHandler)
	}
	code := http.StatusOK
	if f.Placeholder {
		code = http.StatusServiceUnavailable
	}

	h := w.Header()
	noCache(h)
	h.Set("Content-Type", "image/jpeg")
	h.Set("Content-Length", strconv.Itoa(len(f.JPEG)))
	h.Set("X-Timestamp", string(stream.AppendTimestamp(nil, f)))
	if f.Placeholder {
		h.Set(stream.PlaceholderHeader, "1")
	}
	w.WriteHeader(code)
	if r.Method == http.MethodHead {
		return
	}
	// The wait for the frame may have used up the first deadline.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opt.ResponseTimeout))
	if n, err := w.Write(f.JPEG); err == nil {
		c.Sent(n)
	}
}

func (s *Server) serveJSON(w http.ResponseWriter, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "cannot encode JSON: "+err.Error(), http.StatusInternalServerError)
		return
	}
	body = append(body, '\n')
	h := w.Header()
	noCache(h)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}
