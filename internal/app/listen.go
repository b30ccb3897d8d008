package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"

	"usbstream/internal/dsf"
)

// httpServer is one listening HTTP server. A port change starts a new one
// before the old one stops, so there is never a moment with no listener.
type httpServer struct {
	host   string
	port   int
	srv    *http.Server
	ln     net.Listener       // what Serve accepts on
	cancel context.CancelFunc // ends this server's streams
	done   chan struct{}
}

// listen opens host:port and serves the API on it. Streams on it end when
// ctx ends or the server is shut down. Whichever server serves the API, the
// first one or one opened by a port move or a late listen, reports a
// failure of its own to a.failed, which Run watches.
func (a *App) listen(ctx context.Context, host string, port int) (*httpServer, error) {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, &PortInUseError{Addr: addr, Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	return a.start(ctx, a.api.Listener(ln), host, a.api, a.api.ConnState, a.log.Named("http"), a.failed), nil
}

// serve answers h's requests on ln, opened for host, until shutdown (or
// ctx ends). connState, if not nil, is told of every connection's state.
// Nothing stops if it fails: the failure is logged.
func (a *App) serve(ctx context.Context, ln net.Listener, host string, h http.Handler,
	connState func(net.Conn, http.ConnState), log *zap.Logger) *httpServer {
	return a.start(ctx, ln, host, h, connState, log, nil)
}

// start is serve, with Serve's error, if it fails on its own, sent to
// failed (or logged when failed is nil). The send never blocks: the first
// failure is the one Run acts on.
func (a *App) start(ctx context.Context, ln net.Listener, host string, h http.Handler,
	connState func(net.Conn, http.ConnState), log *zap.Logger, failed chan<- error) *httpServer {
	sctx, cancel := context.WithCancel(ctx)
	s := &httpServer{host: host, port: ln.Addr().(*net.TCPAddr).Port, ln: ln, cancel: cancel, done: make(chan struct{})}
	s.srv = &http.Server{
		Handler: h,
		// Slowloris: a client gets 5 s to send its request headers. There is
		// no overall write timeout, which would cut long-lived streams; each
		// stream write has its own deadline instead.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return sctx },
		ErrorLog:          debugStdLog(log),
		ConnState:         connState,
	}
	go func() {
		defer close(s.done)
		err := s.srv.Serve(ln)
		switch {
		case err == nil || errors.Is(err, http.ErrServerClosed):
		case failed == nil:
			log.Error("HTTP server failed", zap.String("address", ln.Addr().String()), zap.Error(err))
		default:
			select {
			case failed <- err:
			default:
			}
		}
	}()
	return s
}

// shutdown ends the server's streams at once and gives snapshots being
// written ShutdownGrace before connections are cut.
func (s *httpServer) shutdown() {
	s.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if s.srv.Shutdown(ctx) != nil {
		s.srv.Close()
	}
	<-s.done
}

// dsfPresent reports whether this machine runs DSF (its socket exists).
func (a *App) dsfPresent() bool {
	if a.dsf == nil {
		return false
	}
	// The socket of the start: a -dsf saved since applies after a restart,
	// and must not turn a failure under DSF into an exit DSF restarts.
	_, err := os.Stat(a.dsfSocket)
	return err == nil
}

// listenLater retries the configured address every 5 s until it can be
// had (or a reload has moved the server meanwhile).
func (a *App) listenLater(ctx context.Context) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		a.mu.Lock()
		serving, cfg := a.http != nil, a.cfg
		a.mu.Unlock()
		if serving {
			return
		}
		srv, err := a.listen(ctx, cfg.Host, cfg.Port)
		a.mu.Lock()
		if err != nil {
			a.httpErr = err.Error()
			a.mu.Unlock()
			continue
		}
		if a.http != nil {
			a.mu.Unlock()
			srv.shutdown()
			return
		}
		a.http, a.httpErr = srv, ""
		a.mu.Unlock()
		a.logURLs(srv.host, srv.port)
		a.message(dsf.Info, fmt.Sprintf("now serving on port %d", srv.port))
		return
	}
}
