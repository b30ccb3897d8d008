// usbStream streams a USB camera (or a test pattern, or recorded JPEGs) as
// MJPEG over HTTP to any number of viewers, for Duet3D printers and any Linux
// machine. This package only parses the configuration, sets up logging and
// signals, and runs internal/app.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"usbstream/internal/app"
	"usbstream/internal/config"
	"usbstream/internal/logging"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "0.2.0-dev"

// Exit statuses: scripts and DSF can tell a configuration mistake from a
// runtime failure.
const (
	exitOK      = 0
	exitFailure = 1
	exitConfig  = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	// content is what the configuration, or the file's error, came from:
	// the watcher compares saves with it, so none made after this read is
	// missed.
	cfg, content, err := config.Parse(args)
	if errors.Is(err, config.ErrHelp) {
		fmt.Fprintf(stdout, "usbStream %s: MJPEG streamer for USB cameras\n\nUsage: usbStream [options]\n\n%s\n",
			version, strings.TrimRight(config.Usage(), "\n"))
		return exitOK
	}
	// A service (DSF's plugin service, systemd) restarts a process that
	// exits, into the same error, forever; the user would only see a
	// camera that never comes. So a bad config file starts usbStream on
	// the built-in defaults instead, showing the error until a save fixes
	// it. A person at a terminal gets the error and exit status 2.
	var startErr error
	if err != nil && fileError(err) && !interactive() {
		fallback, ferr := config.ParseWithFileContent(args, nil)
		if ferr != nil {
			// The command line is wrong too, and no save can mend that:
			// say it first, as the reason for the exit.
			fmt.Fprintf(stderr, "usbStream: %v\n", ferr)
			fmt.Fprintf(stderr, "usbStream: %v\n", err)
			return exitConfig
		}
		cfg, startErr, err = fallback, err, nil
	}
	if err != nil {
		fmt.Fprintf(stderr, "usbStream: %v\n", err)
		return exitConfig
	}
	if cfg.ShowVersion {
		// The Go release is part of what ships: the standard library's
		// security fixes come with it (see go.mod's toolchain line).
		fmt.Fprintf(stdout, "usbStream %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return exitOK
	}
	if cfg.ListCameras {
		if err := app.ListCameras(stdout); err != nil {
			fmt.Fprintf(stderr, "usbStream: %v\n", err)
			return exitFailure
		}
		return exitOK
	}

	log, logOut, warning := logging.New(cfg.Verbose, cfg.LogFile)
	defer logOut.Close()
	if warning != nil {
		log.Warn(warning.Error())
	}
	log.Info("usbStream starting", zap.String("version", version), zap.String("source", cfg.Source.String()),
		zap.String("configFile", cfg.File), zap.Int("pid", os.Getpid()))
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	a := app.New(cfg, app.Options{Args: args, Version: version, Log: log, LogOutput: logOut, FileContent: content,
		StartError: startErr})
	if err := a.Run(ctx); err != nil {
		log.Error(err.Error())
		return exitFailure
	}
	return exitOK
}

// fileError reports whether err is about the config file's content or the
// file itself (not the command line), which a save can mend.
func fileError(err error) bool {
	var ce *config.Error
	return errors.As(err, &ce) && ce.File != ""
}

// interactive reports whether a person may be watching: standard input or
// standard error is a terminal. Services give neither a terminal.
func interactive() bool {
	for _, fd := range []int{0, 2} {
		if _, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			return true
		}
	}
	return false
}
