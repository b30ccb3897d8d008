// Package app wires usbStream together: config → source → supervisor → hub →
// HTTP. It is the only package that knows all the others.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"usbstream/internal/camera"
	"usbstream/internal/config"
	"usbstream/internal/dsf"
	"usbstream/internal/frame"
	"usbstream/internal/httpapi"
	"usbstream/internal/jpeg"
	"usbstream/internal/logging"
	"usbstream/internal/placard"
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

// Options are what the App needs besides the configuration.
type Options struct {
	// Args are the command-line arguments; a reload parses them again with
	// the config file's new content, so command-line overrides stay.
	Args      []string
	Version   string
	Log       *zap.Logger
	LogOutput *logging.Output
	// FileContent is what config.Parse read from the config file at start,
	// also when it had an error, so that an unchanged file is not reported
	// as a change; nil when it could not be read.
	FileContent []byte
	// StartError is the config file's error at start, when the process was
	// started on the built-in defaults instead of exiting (see sbc). The
	// source then only shows the error until a save mends the file.
	StartError error
}

// App is one running usbStream.
type App struct {
	opt     Options
	log     *zap.Logger
	started time.Time

	hub       *stream.Hub
	clients   *stream.Registry
	sup       *source.Supervisor
	api       *httpapi.Server
	dsf       *dsf.Session  // nil with -dsf none
	dsfSocket string        // the socket dsf was started on (a saved -dsf applies after a restart)
	door      *snapshotDoor // set before the DSF session runs; nil without it

	mu       sync.Mutex
	cfg      *config.Config
	cfgState status.Config
	src      source.Source
	// onDefaults: the config file had an error at start and no save has
	// mended it yet, so the source is a stand-in that shows the error.
	onDefaults bool
	// fileHadOptions: the configuration in force came from a file that set
	// options, so a blank save is a broken one (config.CheckReload).
	fileHadOptions bool
	// startAuth: the file that left usbStream on its defaults at start
	// asked for credentials, so a save must keep them or say -auth none.
	startAuth bool
	passwords []string    // the last few passwords and tokens in force, for setSecrets
	http      *httpServer // nil while the port cannot be had
	httpErr   string
	// failed carries the failure of whichever HTTP server serves the API
	// (see listen), for Run.
	failed chan error

	// token is the access token in force (config.AccessToken, which is
	// slow when derived: computed once per configuration).
	token string
}

// New builds an App from a validated config.
func New(cfg *config.Config, opt Options) *App {
	a := &App{opt: opt, log: opt.Log, started: time.Now(), cfg: cfg,
		hub: stream.NewHub(), clients: stream.NewRegistry(), failed: make(chan error, 1)}
	a.cfgState = status.Config{File: cfg.File, LoadedAt: a.started, OK: true}
	// A file missing or unreadable at start (nil content) set nothing, so
	// whatever it holds when it comes is applied, even if blank.
	a.fileHadOptions = opt.FileContent != nil && !config.Blank(opt.FileContent)
	a.startAuth = config.MentionsAuth(opt.FileContent)
	a.token = cfg.AccessToken()
	a.setSecrets(cfg)
	a.log.Info("JPEG encoder: " + jpeg.Implementation())
	if opt.StartError != nil {
		a.onDefaults = true
		a.cfgState.OK, a.cfgState.Defaults, a.cfgState.Error = false, true, opt.StartError.Error()
		a.cfgState.FailedAt = &a.started
		a.src = a.misconfigured(opt.StartError)
	} else {
		a.src = a.newSource(cfg)
	}
	a.sup = source.NewSupervisor(a.src, a.hub, placard.Placeholder, a.log.Named("source"))
	a.sup.SizeHint = func() (int, int) { return outputSize(a.config()) }
	a.api = httpapi.New(a.hub, a.clients, a.Status, a.placeholder, httpapi.Options{
		User: cfg.User, Password: cfg.Password, Token: a.token, AllowOrigin: cfg.AllowOrigin, Version: opt.Version,
		Cameras:         func() (any, error) { return camera.List() },
		MaxClients:      cfg.MaxClients,
		MaxClientsPerIP: cfg.MaxClientsPerIP,
		AllowedHosts:    cfg.AllowedHosts,
	}, a.log.Named("http"))
	if cfg.DSFSocket != "" {
		a.dsf = a.newDSFSession(cfg.DSFSocket)
		a.dsfSocket = cfg.DSFSocket
	}
	return a
}

// onDefaultsNote ends every word of a config file error that left
// usbStream on its built-in defaults.
const onDefaultsNote = "; running on the built-in defaults until the file is fixed"

// misconfigured is the source that stands in while the config file's
// error leaves usbStream on its defaults: its picture names the file (not
// the folder, for room), the line and the mistake.
func (a *App) misconfigured(err error) source.Source {
	a.mu.Lock()
	file := a.cfg.File
	a.mu.Unlock()
	return source.Misconfigured(errors.New(strings.ReplaceAll(err.Error(), filepath.Dir(file)+"/", "") + onDefaultsNote))
}

// setSecrets tells the log what it must never contain: the password and
// the access token in force, the ones before them (a line may still name
// one), and the snapshot door's token.
func (a *App) setSecrets(cfg *config.Config) {
	if a.opt.LogOutput == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range []string{cfg.Password, a.token} {
		if s != "" && !slices.Contains(a.passwords, s) {
			// Bounded: a config saved again and again with new passwords
			// must not make every log line slower for ever.
			a.passwords = append(a.passwords[max(0, len(a.passwords)-7):], s)
		}
	}
	secrets := slices.Clone(a.passwords)
	if a.door != nil {
		secrets = append(secrets, string(a.door.secret))
	}
	a.opt.LogOutput.SetSecrets(secrets...)
}

// config returns the configuration in force.
func (a *App) config() *config.Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfg
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

// Run serves until ctx ends, or, standalone, until the HTTP server fails
// (its error is returned; see waitForEnd), then stops within about ShutdownGrace (plus the DSF goodbye, at
// most dsf.ShutdownTimeout).
func (a *App) Run(ctx context.Context) error {
	// A failed HTTP server stops the rest too when standalone: a usbStream
	// nobody can reach must exit, so that its service starts it again.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	cfg := a.config()
	srv, err := a.listen(ctx, cfg.Host, cfg.Port)
	switch {
	case err == nil:
		a.mu.Lock()
		a.http = srv
		a.mu.Unlock()
		a.logURLs(srv.host, srv.port)
	case errors.As(err, new(*PortInUseError)) && a.dsfPresent():
		// Under DSF, exiting would only make DSF restart us into the same
		// error every few seconds; stay, say so in DWC, and keep trying.
		a.mu.Lock()
		a.httpErr = err.Error()
		a.mu.Unlock()
		a.log.Error(err.Error() + "; retrying every 5 s")
		a.message(dsf.Failure, err.Error())
		err = nil
	default:
		return err
	}

	if err := a.opt.StartError; err != nil {
		a.log.Error("the config file has an error; running on the built-in defaults until a save fixes it", zap.Error(err))
		a.message(dsf.Failure, "config error: "+err.Error()+onDefaultsNote)
	}

	var wg sync.WaitGroup
	if srv == nil {
		wg.Go(func() { a.listenLater(ctx) })
	}
	wg.Go(func() { a.sup.Run(ctx) })
	if a.dsf != nil {
		door, derr := a.openSnapshotDoor(ctx)
		if derr != nil {
			a.log.Warn(errNoDoor.Error(), zap.Error(derr))
		}
		a.door = door
		a.setSecrets(cfg)
		wg.Go(func() { a.dsf.Run(ctx) })
		wg.Go(func() { a.publish(ctx) })
	}
	if cfg.File != "" {
		wg.Go(func() { a.watchConfig(ctx) })
	}

	err = a.waitForEnd(ctx, &wg)
	stop()
	a.mu.Lock()
	srv = a.http
	a.mu.Unlock()
	if srv != nil {
		srv.shutdown()
	}
	wg.Wait()
	if a.door != nil {
		a.door.shutdown()
	}
	a.log.Info("stopped")
	return err
}

// waitForEnd waits for ctx to end, or for the HTTP server to fail on its
// own. Standalone, a failed server ends Run (its error is returned, so the
// service or the person restarts usbStream). Under DSF, whose restart loop
// would hide the cause, the failure becomes a state: /status's http.error
// and DWC's console say it, and the address is retried every 5 s as at a
// start on a busy port.
func (a *App) waitForEnd(ctx context.Context, wg *sync.WaitGroup) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-a.failed:
			if !a.dsfPresent() {
				a.log.Error("HTTP server failed", zap.Error(err))
				return err
			}
			a.mu.Lock()
			srv := a.http
			a.http, a.httpErr = nil, "the HTTP server failed: "+err.Error()
			a.mu.Unlock()
			if srv != nil {
				srv.shutdown()
			}
			a.log.Error("HTTP server failed; listening again every 5 s", zap.Error(err))
			a.message(dsf.Failure, "the stream's HTTP server failed ("+err.Error()+"); retrying every 5 s")
			wg.Go(func() { a.listenLater(ctx) })
		}
	}
}

// ListCameras writes what -list prints: every camera with its names,
// formats, sizes, frame rates and controls.
func ListCameras(w io.Writer) error {
	devices, err := camera.List()
	if err != nil {
		return err
	}
	camera.WriteReport(w, devices)
	return nil
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
	clients := a.clients.List(now)
	return status.Status{
		Version:     a.opt.Version,
		StartedAt:   a.started,
		Uptime:      now.Sub(a.started).Round(time.Millisecond).Seconds(),
		Source:      a.sup.Status(),
		HTTP:        a.httpStatus(),
		ClientCount: len(clients),
		Clients:     clients,
		Config:      a.configStatus(),
		DSF:         a.dsfStatus(),
		Process:     status.ReadProcess(),
	}
}

func (a *App) httpStatus() status.HTTP {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := status.HTTP{Host: a.cfg.Host, Port: a.cfg.Port, StreamPath: "/stream", SnapshotPath: "/snapshot",
		Auth: a.cfg.Protected(), Basic: a.cfg.User != "", Error: a.httpErr}
	st.SetToken(a.token)
	if a.http != nil {
		st.Host, st.Port = a.http.host, a.http.port
	}
	return st
}

func (a *App) configStatus() status.Config {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cfgState
}

// placeholder renders the frame a snapshot gets when no fresh frame came.
func (a *App) placeholder(reason string) *frame.Frame {
	w, h := a.sup.PlaceholderSize()
	now := time.Now()
	jpg, err := placard.Placeholder(w, h, "NO FRESH FRAME", reason, now)
	if err != nil {
		a.log.Error("cannot render the placeholder frame", zap.Error(err))
		jpg = nil
	}
	return &frame.Frame{JPEG: jpg, Captured: now, Width: w, Height: h, Placeholder: true}
}

// logURLs tells the user where to point a browser, with the machine's LAN
// addresses when listening on all interfaces.
func (a *App) logURLs(host string, port int) {
	hosts := []string{host}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
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

// newSource builds the frame source the config asks for.
// wanted reports whether frames may be wanted now: someone watches, or did
// within the last 10 s (a timelapse polling snapshots). Sources that must
// encode every frame (raw camera formats, the test pattern) skip the work
// otherwise.
func (a *App) wanted() bool { return a.clients.Wanted(time.Now(), 10*time.Second) }

// requestedSize is the picture size cfg asks a source for, zero for "the
// camera's default rule".
func requestedSize(cfg *config.Config) config.Resolution {
	if cfg.Resolution.IsZero() && cfg.Size >= 0 {
		return config.SizeTable[cfg.Size]
	}
	return cfg.Resolution
}

// outputSize is the size of the stream cfg asks for, after rotation; zeros
// when it is the camera's to choose.
func outputSize(cfg *config.Config) (width, height int) {
	size := requestedSize(cfg)
	if transformOf(cfg).SwapsSize() {
		return size.Height, size.Width
	}
	return size.Width, size.Height
}

// unhonoured lists what cfg asks that its test pattern or file replay
// cannot do, so the log and /status say so instead of ignoring it.
func unhonoured(cfg *config.Config) []string {
	what := map[string]string{"test": "the test pattern", "file": "a file replay"}[cfg.Source.Kind]
	if what == "" {
		return nil
	}
	var notes []string
	for _, opt := range config.CameraOnly(cfg) {
		notes = append(notes, opt+" applies to cameras only; "+what+" ignores it")
	}
	if cfg.Source.Kind == "file" && !requestedSize(cfg).IsZero() {
		notes = append(notes, "a file replay serves its files at their own size; -size/-resolution only "+
			"size the placeholder shown before its first frame")
	}
	return notes
}

func (a *App) newSource(cfg *config.Config) source.Source {
	notes := unhonoured(cfg)
	for _, n := range notes {
		a.log.Warn(n)
	}
	return source.WithNotes(a.sourceFor(cfg), notes...)
}

func (a *App) sourceFor(cfg *config.Config) source.Source {
	size := requestedSize(cfg)
	switch cfg.Source.Kind {
	case "test":
		if size.IsZero() {
			size = config.Resolution{Width: 1280, Height: 720}
		}
		// Rendered upright at the size asked for, then turned like a
		// camera's frames, so the turned text shows -rotate and -flip work.
		return testpattern.New(size.Width, size.Height, cfg.Framerate, cfg.Quality).
			Transformed(transformOf(cfg)).FollowDemand(a.wanted)
	case "file":
		return filereplay.New(cfg.Source.Path, cfg.Framerate).Transformed(transformOf(cfg), cfg.Quality, a.wanted)
	}
	controls := make([]camera.ControlSetting, len(cfg.Controls))
	for i, c := range cfg.Controls {
		controls[i] = camera.ControlSetting{Name: c.Name, Value: c.Value}
	}
	return camera.New(camera.Options{
		Spec:      cfg.Camera,
		Request:   camera.Request{Format: cfg.Format, Width: size.Width, Height: size.Height, FPS: cfg.Framerate},
		Transform: transformOf(cfg), Quality: cfg.Quality, Controls: controls, ManExp: cfg.ManExp, Exposure: cfg.Exposure,
		Demand: a.wanted,
	}, a.log.Named("camera"))
}
