// Package app wires usbStream together: config → source → supervisor → hub →
// HTTP. It is the only package that knows all the others.
package app

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"usbstream/internal/camera"
	"usbstream/internal/config"
	"usbstream/internal/frame"
	"usbstream/internal/httpapi"
	"usbstream/internal/jpeg"
	"usbstream/internal/source"
	"usbstream/internal/source/filereplay"
	"usbstream/internal/source/testpattern"
	"usbstream/internal/status"
	"usbstream/internal/stream"
)

// ShutdownGrace is how long in-flight requests get at exit before their
// connections are cut. Streams and waiting snapshots end at once through the
// cancelled context, so this only covers a snapshot being written; and a
// browser's pre-opened idle connection would otherwise hold Shutdown for its
// whole timeout. DSF kills a plugin 4 s after SIGTERM; we aim for < 1 s.
const ShutdownGrace = 250 * time.Millisecond

// App is one running usbStream.
type App struct {
	cfg     *config.Config
	version string
	log     *zap.Logger
	started time.Time

	hub     *stream.Hub
	clients *stream.Registry
	sup     *source.Supervisor
	api     *httpapi.Server
}

// New builds an App from a validated config.
func New(cfg *config.Config, version string, log *zap.Logger) *App {
	a := &App{cfg: cfg, version: version, log: log, started: time.Now(),
		hub: stream.NewHub(), clients: stream.NewRegistry()}
	log.Info("JPEG encoder: " + jpeg.Implementation())
	a.sup = source.NewSupervisor(a.newSource(cfg), a.hub, jpeg.Placeholder, log.Named("source"))
	a.api = httpapi.New(a.hub, a.clients, a.Status, a.placeholder, httpapi.Options{
		User: cfg.User, Password: cfg.Password, AllowOrigin: cfg.AllowOrigin, Version: version,
		Cameras: func() (any, error) { return camera.List() },
	}, log.Named("http"))
	return a
}

// newSource picks the frame source the config asks for.
func (a *App) newSource(cfg *config.Config) source.Source {
	size := cfg.Resolution
	if size.IsZero() && cfg.Size >= 0 {
		size = config.SizeTable[cfg.Size]
	}
	switch cfg.Source.Kind {
	case "test":
		if size.IsZero() {
			size = config.Resolution{Width: 1280, Height: 720}
		}
		return testpattern.New(size.Width, size.Height, cfg.Framerate, cfg.Quality)
	case "file":
		return filereplay.New(cfg.Source.Path, cfg.Framerate)
	}
	t := jpeg.Transform{Rotate: cfg.Rotate, FlipH: strings.Contains(cfg.Flip, "h"), FlipV: strings.Contains(cfg.Flip, "v")}
	controls := make([]camera.ControlSetting, len(cfg.Controls))
	for i, c := range cfg.Controls {
		controls[i] = camera.ControlSetting{Name: c.Name, Value: c.Value}
	}
	return camera.New(camera.Options{
		Spec:      cfg.Camera,
		Request:   camera.Request{Format: cfg.Format, Width: size.Width, Height: size.Height, FPS: cfg.Framerate},
		Transform: t, Quality: cfg.Quality, Controls: controls, ManExp: cfg.ManExp, Exposure: cfg.Exposure,
		// Raw frames are encoded only while someone watches, or did within
		// the last 10 s (a timelapse polling snapshots).
		Demand: func() bool { return a.clients.Wanted(time.Now(), 10*time.Second) },
	}, a.log.Named("camera"))
}

// PortInUseError reports that the HTTP port is taken.
type PortInUseError struct {
	Addr string
	Err  error
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("cannot listen on %s: the port is already in use by another program "+
		"(another usbStream or mjpg-streamer?); stop it or choose another -port", e.Addr)
}

func (e *PortInUseError) Unwrap() error { return e.Err }

// Run serves until ctx ends, then stops within ShutdownGrace.
func (a *App) Run(ctx context.Context) error {
	addr := net.JoinHostPort(a.cfg.Host, strconv.Itoa(a.cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return &PortInUseError{Addr: addr, Err: err}
	}
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", addr, err)
	}

	srv := &http.Server{
		Handler: a.api,
		// Slowloris: a client gets 5 s to send its request headers. There is
		// no overall write timeout, which would cut long-lived streams; each
		// stream write has its own deadline instead.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          debugStdLog(a.log.Named("http")),
	}

	var wg sync.WaitGroup
	wg.Go(func() { a.sup.Run(ctx) })
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	a.logURLs(ln.Addr().(*net.TCPAddr).Port)

	select {
	case <-ctx.Done():
	case err = <-serveErr:
		a.log.Error("HTTP server failed", zap.Error(err))
	}
	// Streams end through the cancelled base context; Shutdown then waits
	// briefly for in-flight snapshots before connections are cut.
	shutCtx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if srv.Shutdown(shutCtx) != nil {
		srv.Close()
	}
	wg.Wait()
	a.log.Info("stopped")
	return err
}

// debugStdLog routes net/http's own complaints (bad requests, TLS probes
// from scanners) to debug level: they are about clients, not usbStream.
func debugStdLog(log *zap.Logger) *stdlog.Logger {
	l, err := zap.NewStdLogAt(log, zap.DebugLevel)
	if err != nil {
		return zap.NewStdLog(log)
	}
	return l
}

// Status assembles the status document.
func (a *App) Status() status.Status {
	now := time.Now()
	return status.Status{
		Version:   a.version,
		StartedAt: a.started,
		Uptime:    now.Sub(a.started).Round(time.Millisecond).Seconds(),
		Source:    a.sup.Status(),
		HTTP: status.HTTP{Host: a.cfg.Host, Port: a.cfg.Port, StreamPath: "/stream", SnapshotPath: "/snapshot",
			Auth: a.cfg.User != ""},
		Clients: a.clients.List(now),
		Config:  status.Config{File: a.cfg.File, LoadedAt: a.started, OK: true},
		Process: status.ReadProcess(),
	}
}

// placeholder renders the frame a snapshot gets when no fresh frame came.
func (a *App) placeholder(reason string) *frame.Frame {
	st := a.sup.Status()
	w, h := st.Width, st.Height
	if w <= 0 || h <= 0 {
		w, h = 640, 480
	}
	now := time.Now()
	jpg, err := jpeg.Placeholder(w, h, "NO FRESH FRAME", reason, now)
	if err != nil {
		a.log.Error("cannot render the placeholder frame", zap.Error(err))
		jpg = nil
	}
	return &frame.Frame{JPEG: jpg, Captured: now, Width: w, Height: h, Placeholder: true}
}

// logURLs tells the user where to point a browser, with the machine's LAN
// addresses when listening on all interfaces.
func (a *App) logURLs(port int) {
	hosts := []string{a.cfg.Host}
	if ip := net.ParseIP(a.cfg.Host); ip != nil && ip.IsUnspecified() {
		// 0.0.0.0 listens on IPv4 only; "::" on both.
		hosts = lanAddresses(ip.To4() == nil)
	}
	for _, h := range hosts {
		base := "http://" + net.JoinHostPort(h, strconv.Itoa(port))
		a.log.Info("serving "+base+"/", zap.String("stream", base+"/stream"), zap.String("snapshot", base+"/snapshot"),
			zap.String("status", base+"/status"))
	}
}

// lanAddresses lists the addresses of the interfaces that are up, IPv4
// first, with loopback last so the LAN address is the first one read.
func lanAddresses(withIPv6 bool) []string {
	var v4, v6 []string
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, addr := range addrs {
			ipn, ok := addr.(*net.IPNet)
			if !ok || ipn.IP.IsLinkLocalUnicast() {
				continue
			}
			if ipn.IP.To4() != nil {
				v4 = append(v4, ipn.IP.String())
			} else if withIPv6 {
				v6 = append(v6, ipn.IP.String())
			}
		}
	}
	return append(append(v4, v6...), "127.0.0.1")
}
