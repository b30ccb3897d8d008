package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"usbstream/internal/camera"
	"usbstream/internal/config"
	"usbstream/internal/configwatch"
	"usbstream/internal/dsf"
	"usbstream/internal/httpapi"
	"usbstream/internal/jpeg"
	"usbstream/internal/source"
	"usbstream/internal/status"
)

// reloadDebounce: DWC writes the file in one go, so a short quiet time
// suffices; a save is applied within half a second.
const reloadDebounce = 200 * time.Millisecond

// watchConfig applies every settled save of the config file.
func (a *App) watchConfig(ctx context.Context) {
	file := a.config().File
	w := configwatch.New(file, reloadDebounce, a.log.Named("config"))
	if a.opt.FileContent != nil {
		// nil: the file could not be read at start, so whatever is read
		// first is news (an empty file included).
		w.SetLast(a.opt.FileContent)
	}
	err := w.Run(ctx, func(content []byte) { a.Reload(ctx, content) }, a.unreadable)
	if err != nil {
		a.log.Warn("cannot watch the config file; changes apply after a restart", zap.String("file", file), zap.Error(err))
	}
}

// Reload parses content as the config file's new text (with the original
// command line around it) and applies what changed. An invalid file
// changes nothing: the last good configuration stays, and the error is
// logged, shown in /status and sent to DWC's console. So does a file that
// parses but would switch basic auth off, widen a loopback-only listener
// or go back to the defaults, without saying so (config.CheckReload): that is what an interrupted save
// or upload leaves, and it must not open the camera to everyone.
func (a *App) Reload(ctx context.Context, content []byte) {
	next, err := config.ParseWithFileContent(a.opt.Args, content)
	if err == nil {
		a.mu.Lock()
		running := config.Running{FileHadOptions: a.fileHadOptions, Auth: a.cfg.Protected() || a.onDefaults && a.startAuth,
			TokenOnly: a.cfg.User == "" && a.cfg.Token != "", Host: a.cfg.Host}
		a.mu.Unlock()
		err = config.CheckReload(running, next, content)
	}
	if err != nil {
		a.notApplied(err, "config file not applied")
		return
	}
	for _, w := range next.Warnings {
		a.log.Warn(w)
	}
	changed := a.apply(ctx, next)
	a.mu.Lock()
	mended := !a.cfgState.OK
	a.cfgState = status.Config{File: next.File, LoadedAt: time.Now(), OK: true, Changed: changed}
	a.fileHadOptions = !config.Blank(content)
	a.mu.Unlock()
	if mended {
		// The console showed the error in red; say that it is over.
		a.message(dsf.Info, "config file applied; the error is fixed")
	}
	if len(changed) == 0 {
		a.log.Info("config file saved without changes")
		return
	}
	a.log.Info("configuration reloaded", zap.Strings("changed", changed))
}

// unreadable reports a config file that is there but cannot be read (its
// permissions, a FIFO or device in its place, a huge file) as any config
// error: /status, DWC's console and a warning, the configuration kept.
func (a *App) unreadable(err error) {
	a.notApplied(err, "cannot read the changed config file")
}

// notApplied shows why the file's content is not in force; what stays in
// force is the last good configuration, or the built-in defaults.
func (a *App) notApplied(err error, what string) {
	now := time.Now()
	a.mu.Lock()
	a.cfgState.OK, a.cfgState.Error, a.cfgState.FailedAt = false, err.Error(), &now
	onDefaults := a.onDefaults
	a.mu.Unlock()
	if onDefaults {
		// There is no good configuration to keep: the picture shows
		// the file's newest error.
		a.replaceSource(a.misconfigured(err))
		a.log.Warn(what+"; still running on the built-in defaults", zap.Error(err))
		a.message(dsf.Failure, "config error: "+err.Error()+onDefaultsNote)
		return
	}
	a.log.Warn(what+"; still running with the last good configuration", zap.Error(err))
	a.message(dsf.Failure, "config error: "+err.Error()+"; still running with the last good configuration")
}

// apply switches from the configuration in force to next, touching only
// what changed, and returns the options that changed. What each change
// takes is its option's class in the config table.
func (a *App) apply(ctx context.Context, next *config.Config) []string {
	a.mu.Lock()
	prev := a.cfg
	a.mu.Unlock()
	changes := config.Diff(prev, next)
	var changed []string
	takes := map[config.Reload]bool{}
	for _, c := range changes {
		changed = append(changed, c.Option)
		takes[c.Reload] = true
	}

	if takes[config.SwitchesLog] {
		if err := a.opt.LogOutput.Set(next.Verbose, next.LogFile); err != nil {
			a.log.Warn(err.Error())
		}
	}
	if takes[config.SwitchesCredentials] || takes[config.AppliesToNewRequests] {
		token := a.token
		if takes[config.SwitchesCredentials] {
			token = next.AccessToken()
		}
		a.mu.Lock()
		a.token = token
		a.mu.Unlock()
		// The log must hide the new token before any line can show it.
		a.setSecrets(next)
		a.api.SetAccess(httpapi.Access{User: next.User, Password: next.Password, Token: token, AllowOrigin: next.AllowOrigin})
		a.api.SetMaxClients(next.MaxClients)
		a.api.SetMaxClientsPerIP(next.MaxClientsPerIP)
		a.api.SetAllowedHosts(next.AllowedHosts)
	}
	a.applySource(next, takes[config.ReopensSource], takes[config.TunesSource], next.Framerate > prev.Framerate)
	if takes[config.MovesListener] {
		if err := a.move(ctx, next.Host, next.Port); err != nil {
			// Keep serving where we are; the status says why.
			next.Host, next.Port = prev.Host, prev.Port
		}
	}
	for _, c := range changes {
		if c.Reload == config.AppliesAfterRestart {
			a.log.Warn("a changed " + c.Option + " applies after a restart")
		}
	}
	a.mu.Lock()
	a.cfg = next
	a.mu.Unlock()
	return changed
}

// applySource restarts the source when what it captures changed (reopen),
// and otherwise hands a running camera its new rotation, quality and rate
// cap (tune); faster says the frame rate went up.
func (a *App) applySource(next *config.Config, reopen, tune, faster bool) {
	a.mu.Lock()
	src, onDefaults := a.src, a.onDefaults
	a.onDefaults = false
	a.mu.Unlock()
	cam, isCamera := src.(*camera.Source)
	// The stand-in for a broken file at start is replaced by whatever the
	// first good save asks for, even if that is what the defaults say.
	restart := onDefaults || reopen
	if !isCamera {
		// Generated and replayed sources are cheap to restart.
		restart = restart || tune
	} else if faster && next.Framerate > cam.OpenedFPS()+0.01 {
		restart = true // a higher rate must be asked of the driver at open
	}
	if restart {
		a.replaceSource(a.newSource(next))
		return
	}
	if isCamera && tune {
		cam.SetLive(camera.Live{Transform: transformOf(next), Quality: next.Quality, FPS: next.Framerate})
	}
}

// replaceSource makes src the source the supervisor runs.
func (a *App) replaceSource(src source.Source) {
	a.mu.Lock()
	a.src = src
	a.mu.Unlock()
	a.sup.Replace(src)
}

func transformOf(cfg *config.Config) jpeg.Transform {
	return jpeg.Transform{Rotate: cfg.Rotate, FlipH: strings.ContainsRune(cfg.Flip, 'h'), FlipV: strings.ContainsRune(cfg.Flip, 'v')}
}

// move opens the new address first and only then closes the old listener,
// so a port taken by another program leaves usbStream where it was.
func (a *App) move(ctx context.Context, host string, port int) error {
	srv, err := a.listen(ctx, host, port)
	if err != nil {
		a.mu.Lock()
		a.httpErr = err.Error()
		a.mu.Unlock()
		a.log.Error("cannot move the HTTP server; still serving on the old address", zap.Error(err))
		a.message(dsf.Failure, err.Error()+"; still serving on the old port")
		return err
	}
	a.mu.Lock()
	old := a.http
	a.http, a.httpErr = srv, ""
	a.mu.Unlock()
	a.logURLs(srv.host, srv.port)
	if old != nil {
		old.shutdown()
		a.log.Info(fmt.Sprintf("the stream moved from port %d to %d", old.port, srv.port))
	}
	a.message(dsf.Info, fmt.Sprintf("the stream moved to port %d", srv.port))
	return nil
}
