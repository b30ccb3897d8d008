package dsf

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// EndpointSpec is a custom HTTP endpoint a plugin serves:
// Method /machine/<plugin>/<Path>.
type EndpointSpec struct {
	Method  string // GET, POST, ...
	Path    string // e.g. "status"
	Upload  bool   // DWS passes the body as a temp file's path
	Handler Handler
}

// SessionOptions configure a plugin's session with DSF.
type SessionOptions struct {
	Socket    string // DCS's socket; DefaultSocket if empty
	Plugin    string // the plugin id, also the endpoints' namespace
	Endpoints []EndpointSpec
	// StartupRetry is how long after start a refusal by DCS is retried
	// quickly: DSF registers a plugin's PID only after starting it, so the
	// first connections may be refused. Default 10 s.
	StartupRetry time.Duration
	// MaxRetryInterval caps the pause between connection attempts while DSF
	// is absent or restarting. Default 2 s.
	MaxRetryInterval time.Duration
	// OnConnect runs after every (re)connection, once the endpoints are
	// registered and the data published (e.g. to resolve paths).
	OnConnect func(ctx context.Context, c *Conn)
	Log       *zap.Logger
}

// Message rate limits: DWC pops a toast per message, so repeats are held
// back and bursts capped.
const (
	messageRepeatWindow = time.Minute
	messagesPerMinute   = 10
	maxQueuedMessages   = 10
	commandTimeout      = 5 * time.Second
	// ShutdownTimeout bounds the goodbye at exit: DSF kills a plugin 4 s
	// after SIGTERM.
	ShutdownTimeout = 2500 * time.Millisecond
)

// Session keeps a plugin connected to DSF for the life of the process: it
// registers the endpoints and serves them, publishes plugin data and sends
// messages, reconnects after DCS restarts (re-registering and
// re-publishing, since DCS forgets both), and runs standalone, quietly
// retrying, while DSF is absent.
type Session struct {
	opt  SessionOptions
	log  *zap.Logger
	dlog limitedLog // what DSF's input or absence causes
	gate *gate      // shared by the endpoints

	wake chan struct{}

	mu        sync.Mutex
	data      map[string]any
	dirty     map[string]bool
	messages  []message
	msgLimit  *limiter
	connected bool
	lastErr   string
	since     time.Time

	endpoints map[string]*Endpoint // spec key → listener; only the Run goroutine touches it
}

type message struct {
	typ     MessageType
	content string
}

// NewSession prepares a session; Run connects.
func NewSession(opt SessionOptions) *Session {
	if opt.Socket == "" {
		opt.Socket = DefaultSocket
	}
	if opt.StartupRetry == 0 {
		opt.StartupRetry = 10 * time.Second
	}
	if opt.MaxRetryInterval == 0 {
		opt.MaxRetryInterval = 2 * time.Second
	}
	if opt.Log == nil {
		opt.Log = zap.NewNop()
	}
	return &Session{opt: opt, log: opt.Log, dlog: limitedLog{opt.Log, newLimiter()}, gate: newGate(),
		wake: make(chan struct{}, 1), data: map[string]any{}, dirty: map[string]bool{}, msgLimit: newLimiter(),
		endpoints: map[string]*Endpoint{}, since: time.Now()}
}

// Status is the session's state for /status.
type Status struct {
	Connected bool      `json:"connected"`
	Socket    string    `json:"socket"`
	Since     time.Time `json:"since"`
	Error     string    `json:"error,omitempty"`
}

// Status says whether DSF is connected.
func (s *Session) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Status{Connected: s.connected, Socket: s.opt.Socket, Since: s.since, Error: s.lastErr}
}

// SetData sets plugin data key to value (sent whole; see the document on
// why one key with one object is safest). Only the latest value is sent,
// now if connected, else on connection.
func (s *Session) SetData(key string, value any) {
	s.mu.Lock()
	s.data[key] = value
	s.dirty[key] = true
	s.mu.Unlock()
	s.poke()
}

// Message queues a message for DWC's console. A message that repeats the
// one before it within a minute is dropped, and at most ten a minute are
// sent. Only a repeat of the last one is dropped, so that the console's
// newest line is never stale: lost, back, lost is three lines, the last
// one true. While DSF is away the last few wait for the connection (the
// log has them all).
func (s *Session) Message(typ MessageType, content string) {
	if ok, _ := s.msgLimit.allow(content, time.Now()); !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, message{typ, content})
	if len(s.messages) > maxQueuedMessages {
		s.messages = s.messages[len(s.messages)-maxQueuedMessages:]
	}
	s.poke()
}

// Warn logs a warning caused by what DSF answered, held back like the
// session's own (see limitedLog).
func (s *Session) Warn(msg string, fields ...zap.Field) { s.dlog.warn(msg, fields...) }

func (s *Session) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run keeps the session up until ctx ends, then removes the endpoints
// from DCS and deletes their sockets, within ShutdownTimeout.
func (s *Session) Run(ctx context.Context) {
	started := time.Now()
	delay := 250 * time.Millisecond
	var reported string
	for ctx.Err() == nil {
		dialCtx, cancel := context.WithTimeout(ctx, commandTimeout)
		conn, err := Dial(dialCtx, s.opt.Socket)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			s.setDown(err)
			startup := IsUnauthorized(err) && time.Since(started) < s.opt.StartupRetry
			if why := describeDialError(err); why != reported && !startup {
				reported = why
				s.log.Info(why+"; running standalone and retrying", zap.String("socket", s.opt.Socket), zap.Error(err))
			} else {
				s.log.Debug("DSF connection attempt failed", zap.Error(err))
			}
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			delay = min(2*delay, s.opt.MaxRetryInterval)
			continue
		}
		reported = ""
		healthy := s.serve(ctx, conn)
		if ctx.Err() != nil {
			s.goodbye(conn)
		} else {
			s.dlog.info("lost the connection to DSF; reconnecting", zap.Error(conn.Err()))
		}
		conn.Close()
		s.setDown(errors.New("connection lost"))
		if healthy {
			delay = 250 * time.Millisecond
			continue
		}
		// A DCS that talks nonsense or drops us at once would otherwise
		// be redialled in a tight loop.
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		delay = min(2*delay, s.opt.MaxRetryInterval)
	}
	for _, e := range s.endpoints {
		e.Close()
	}
	clear(s.endpoints)
}

func describeDialError(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return "DSF is not running"
	case errors.Is(err, fs.ErrPermission):
		return "no permission to use DSF's socket (not started by DSF, and not in group dsf?)"
	case IsUnauthorized(err):
		return "DSF refuses this process (it was not started by DSF's plugin service)"
	}
	return "cannot connect to DSF"
}

func (s *Session) setDown(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.connected || s.lastErr == "" {
		s.since = time.Now()
	}
	s.connected, s.lastErr = false, err.Error()
	// Whatever DCS had is gone with it: publish everything again.
	for k := range s.data {
		s.dirty[k] = true
	}
}

// serve registers, publishes, and then sends data and messages as they
// come until the connection or ctx ends. It reports whether DCS took the
// registrations.
func (s *Session) serve(ctx context.Context, conn *Conn) (healthy bool) {
	healthy = s.register(ctx, conn)
	s.mu.Lock()
	s.connected, s.lastErr, s.since = true, "", time.Now()
	s.mu.Unlock()
	s.flush(ctx, conn)
	if s.opt.OnConnect != nil {
		s.opt.OnConnect(ctx, conn)
	}
	s.dlog.info("connected to DSF", zap.String("socket", s.opt.Socket), zap.Int("endpoints", len(s.endpoints)))
	for {
		select {
		case <-conn.Done():
			return healthy
		case <-ctx.Done():
			return healthy
		case <-s.wake:
			s.flush(ctx, conn)
		}
	}
}

// register adds every endpoint and makes sure we listen where DCS says. It
// reports false when DCS failed a registration (not when another process
// serves an endpoint, which reconnecting does not change).
func (s *Session) register(ctx context.Context, conn *Conn) bool {
	ok := true
	for _, spec := range s.opt.Endpoints {
		key := spec.Method + " " + spec.Path
		url := "/machine/" + s.opt.Plugin + "/" + spec.Path
		cctx, cancel := context.WithTimeout(ctx, commandTimeout)
		path, err := conn.AddHttpEndpoint(cctx, spec.Method, s.opt.Plugin, spec.Path, spec.Upload)
		cancel()
		old := s.endpoints[key]
		switch {
		case IsAlreadyActive(err) && old != nil && old.Alive():
			continue // the same DCS still routes to our live socket
		case IsAlreadyActive(err):
			s.dlog.warn("another process already serves this DSF endpoint", zap.String("endpoint", url))
			continue
		case err != nil:
			s.dlog.warn("cannot register the DSF endpoint", zap.String("endpoint", url), zap.Error(err))
			ok = false
			continue
		}
		if old != nil && old.Alive() && old.Path() == path {
			continue // DCS restarted and gave the same socket: keep serving it
		}
		if old != nil {
			old.Close()
			delete(s.endpoints, key)
		}
		e, err := listenEndpoint(path, spec.Handler, s.dlog, s.gate)
		if err != nil {
			s.dlog.warn("cannot listen on the DSF endpoint socket; the endpoint is not registered",
				zap.String("endpoint", url), zap.Error(err))
			// Registered but not served, DWS would answer 500 for it:
			// unregistered, it answers 404.
			cctx, cancel := context.WithTimeout(ctx, commandTimeout)
			if _, err := conn.RemoveHttpEndpoint(cctx, spec.Method, s.opt.Plugin, spec.Path); err != nil {
				s.log.Debug("cannot remove the DSF endpoint", zap.String("endpoint", url), zap.Error(err))
			}
			cancel()
			continue
		}
		s.endpoints[key] = e
		s.log.Debug("DSF endpoint registered", zap.String("method", spec.Method),
			zap.String("url", url), zap.String("socket", path))
	}
	return ok
}

// flush sends the changed data keys and the queued messages.
func (s *Session) flush(ctx context.Context, conn *Conn) {
	s.mu.Lock()
	data := map[string]any{}
	for k := range s.dirty {
		data[k] = s.data[k]
	}
	clear(s.dirty)
	msgs := s.messages
	s.messages = nil
	s.mu.Unlock()
	for k, v := range data {
		cctx, cancel := context.WithTimeout(ctx, commandTimeout)
		err := conn.SetPluginData(cctx, s.opt.Plugin, k, v)
		cancel()
		if err != nil {
			var dcsErr *Error
			if errors.As(err, &dcsErr) {
				s.dlog.warn("DSF refused the plugin data", zap.String("key", k), zap.Error(err))
				continue
			}
			s.mu.Lock()
			s.dirty[k] = true // the connection failed: send it again on the next one
			s.mu.Unlock()
			return
		}
	}
	for _, m := range msgs {
		cctx, cancel := context.WithTimeout(ctx, commandTimeout)
		err := conn.WriteMessage(cctx, m.typ, m.content, "")
		cancel()
		if err != nil {
			s.log.Debug("cannot send a message to DWC", zap.Error(err))
		}
	}
}

// goodbye removes our endpoints from DCS so that DWS stops routing to
// sockets nobody listens on (it would answer 500).
func (s *Session) goodbye(conn *Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	for _, spec := range s.opt.Endpoints {
		if _, ok := s.endpoints[spec.Method+" "+spec.Path]; !ok {
			continue
		}
		if _, err := conn.RemoveHttpEndpoint(ctx, spec.Method, s.opt.Plugin, spec.Path); err != nil {
			s.log.Debug("cannot remove the DSF endpoint", zap.String("path", spec.Path), zap.Error(err))
			return
		}
	}
}
