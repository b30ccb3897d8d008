package httpapi

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// ConnectionLimit is how many connections the server holds at once for a
// -maxclients of maxClients: every stream and snapshot is one, and the
// rest is room for status requests, viewer pages, idle keep-alive
// connections and requests still arriving. Without a bound, connections
// that never close piled up outside -maxclients until memory or file
// descriptors ran out. The room is generous (656 at the default of 100:
// about 10 MB of buffers) because connections that trickle their request
// in count too, and a small limit would make those an easy way to lock
// viewers out.
func ConnectionLimit(maxClients int) int { return 4*maxClients + 256 }

// tooManyConnections is what a connection over the limit is told, in
// HTTP, before it is closed.
var tooManyConnections = func() []byte {
	const body = "too many connections to usbStream at once; try again in a while\n"
	return []byte("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// Listener wraps ln so that the server holds at most ConnectionLimit of
// the current -maxclients connections; one over it is answered 503 and
// closed. It also makes running out of file descriptors visible: the
// accept loop of net/http retries quietly. The http.Server serving it must
// report to ConnState. Connections are handed on unwrapped: a stream needs
// the *net.TCPConn itself for writev and its send queue.
func (s *Server) Listener(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, s: s}
}

// ConnState counts the connections net/http holds and remembers the idle
// ones; hand it to http.Server.ConnState. A stream's connection, taken
// over from net/http, is counted by the stream while it lasts.
func (s *Server) ConnState(c net.Conn, state http.ConnState) {
	t := &s.conns
	t.mu.Lock()
	defer t.mu.Unlock()
	switch state {
	case http.StateNew:
		t.held++
	case http.StateIdle:
		t.idle[c] = time.Now()
	case http.StateActive:
		delete(t.idle, c)
	case http.StateHijacked, http.StateClosed:
		t.held--
		delete(t.idle, c)
	}
}

// connections are the connections a server holds.
type connections struct {
	mu       sync.Mutex
	held     int                    // net/http's and streams'
	idle     map[net.Conn]time.Time // keep-alive connections between requests, since when
	lastWarn time.Time
	fdErrors int // EMFILE errors since the last warning
}

// addStream counts a stream's connection (n = 1) or forgets it (-1).
func (t *connections) addStream(n int) {
	t.mu.Lock()
	t.held += n
	t.mu.Unlock()
}

// makeRoom reports whether a new connection may be served under limit. At
// the limit the connection idle the longest makes room: it waits for a
// request that may never come, while the new one has one to send.
func (t *connections) makeRoom(limit int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.held < limit {
		return true
	}
	var oldest net.Conn
	var since time.Time
	for c, at := range t.idle {
		if oldest == nil || at.Before(since) {
			oldest, since = c, at
		}
	}
	if oldest == nil {
		return false
	}
	// Its StateClosed comes from its own goroutine; until then the new
	// connection is one over the limit.
	delete(t.idle, oldest)
	oldest.Close()
	return true
}

type limitListener struct {
	net.Listener
	s *Server
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			l.s.conns.noteAcceptError(err, l.s.log)
			return nil, err
		}
		if !l.s.conns.makeRoom(ConnectionLimit(int(l.s.maxClients.Load()))) {
			l.refuse(c)
			continue
		}
		return c, nil
	}
}

// refuse answers c 503 and closes it without holding the accept loop: the
// write goes into an empty socket buffer and does not block.
func (l *limitListener) refuse(c net.Conn) {
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	c.Write(tooManyConnections)
	c.Close()
	l.s.log.Debug("connection refused: too many at once", zap.String("remote", c.RemoteAddr().String()))
}

// acceptWarnEvery rate-limits the warning about running out of file
// descriptors; net/http retries accepting every few milliseconds.
const acceptWarnEvery = 10 * time.Second

func (t *connections) noteAcceptError(err error, log *zap.Logger) {
	if !errors.Is(err, syscall.EMFILE) && !errors.Is(err, syscall.ENFILE) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fdErrors++
	now := time.Now()
	if now.Sub(t.lastWarn) < acceptWarnEvery {
		return
	}
	log.Warn("cannot accept connections: out of file descriptors; new viewers wait until some close",
		zap.Error(err), zap.Int("times", t.fdErrors), zap.Int("connections", t.held))
	t.lastWarn, t.fdErrors = now, 0
}
