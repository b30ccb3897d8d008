package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"usbstream/internal/config"
	"usbstream/internal/logging"
	"usbstream/internal/source"
)

// testApp is a whole usbStream in this process, started as sbc starts it:
// its options from a real config file (DSF off), its log in a file, its
// HTTP server on 127.0.0.1.
type testApp struct {
	*App
	t       *testing.T
	file    string
	logPath string
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan error
	ended   bool
	err     error // what Run returned, once ended
	logOut  *logging.Output
}

// startApp writes content as the config file and runs an App on it,
// with args after -file on the command line. A file with an error starts
// it on the built-in defaults, as under a service.
func startApp(t *testing.T, content string, args ...string) *testApp {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "usbStream.config")
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "usbStream.log")
	front := []string{"-logfile", logPath, "-file", file}
	if !slices.Contains(args, "-dsf") && !strings.Contains(content, "-dsf ") {
		front = append([]string{"-dsf", "none"}, front...)
	}
	args = append(front, args...)
	cfg, read, startErr := config.Parse(args)
	if startErr != nil {
		var err error
		if cfg, err = config.ParseWithFileContent(args, nil); err != nil {
			t.Fatalf("the command line: %v (the file: %v)", err, startErr)
		}
	}
	log, out, warning := logging.New(cfg.Verbose, cfg.LogFile)
	if warning != nil {
		t.Fatal(warning)
	}
	a := New(cfg, Options{Args: args, Version: "test", Log: log, LogOutput: out, FileContent: read, StartError: startErr})
	ctx, cancel := context.WithCancel(context.Background())
	ta := &testApp{App: a, t: t, file: file, logPath: logPath, ctx: ctx, cancel: cancel, done: make(chan error, 1), logOut: out}
	go func() { ta.done <- a.Run(ctx) }()
	t.Cleanup(ta.stop)
	ta.waitFor("the HTTP server to answer", func() bool {
		port := ta.port()
		return port != 0 && ta.get(port, "/status", nil) != 0
	})
	return ta
}

// stop ends Run and waits for it, as SIGTERM does.
func (ta *testApp) stop() {
	ta.cancel()
	ta.wait(10 * time.Second)
	ta.logOut.Close()
}

// wait waits up to d for Run to return and reports whether it did.
func (ta *testApp) wait(d time.Duration) bool {
	if ta.ended {
		return true
	}
	select {
	case ta.err = <-ta.done:
		ta.ended = true
	case <-time.After(d):
	}
	return ta.ended
}

func (ta *testApp) waitFor(what string, ok func() bool) {
	ta.t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			ta.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// port is where the HTTP server listens, 0 while it does not.
func (ta *testApp) port() int {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	if ta.http == nil {
		return 0
	}
	return ta.http.port
}

// source is the source the App runs: a new one means a restart.
func (ta *testApp) source() source.Source {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	return ta.src
}

// get requests path on port and returns the status code, 0 when nothing
// answers there. header may set Host and Authorization.
func (ta *testApp) get(port int, path string, header http.Header) int {
	req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+path, nil)
	if err != nil {
		ta.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if h := header.Get("Host"); h != "" {
		req.Host = h
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return 0
		}
		ta.t.Fatalf("GET %s on port %d: %v", path, port, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// logged reports whether the log file has a line containing s.
func (ta *testApp) logged(s string) bool {
	return logHas(ta.logPath, s)
}

func logHas(path, s string) bool {
	b, _ := os.ReadFile(path)
	return strings.Contains(string(b), s)
}
