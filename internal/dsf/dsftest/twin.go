// Package dsftest is a test twin of DSF's DuetControlServer (the IPC server
// on a UNIX socket) and DuetWebServer (the HTTP front that forwards custom
// endpoints to plugin sockets), after DSF's v3.5-dev and v3.6-dev sources
// (github.com/Duet3D/DuetSoftwareFramework, src/DuetControlServer,
// src/DuetWebServer, src/DuetPluginService). Tests run the real usbStream
// binary or a DSF client against it and inspect what arrived. Where the twin
// knowingly differs from DSF, a comment says so.
package dsftest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Profile selects which DSF release the twin reproduces.
type Profile string

const (
	Profile35 Profile = "3.5"
	Profile36 Profile = "3.6"
)

// Options configure a twin.
type Options struct {
	// Dir is the root for everything: the DCS socket is Dir+"/run/dsf/dcs.sock",
	// endpoint sockets Dir+"/run/dsf/<ns>/<path>-<Type>.sock", the virtual SD
	// card Dir+"/sd" (0:/ maps to Dir/sd).
	Dir string
	// Profile defaults to Profile36.
	Profile Profile
	// Manifest is the plugin's plugin.json; the twin installs this one plugin
	// with pid -1.
	Manifest []byte
	// RejectUnregistered makes connections from any pid other than the
	// registered plugin pid fail the way a process running as user dsf fails
	// on a real SBC (the startup race). Otherwise such connections get every
	// permission but superUser and no plugin id, like a process run by hand.
	RejectUnregistered bool
	// RouteDelay is how long the HTTP front takes to pick up endpoint
	// changes (default 100ms).
	RouteDelay time.Duration
	// AutoRestartInterval is DCS's PluginAutoRestartInterval, the pause
	// before an sbcAutoRestart plugin that exited is started again
	// (default 2 s, as in DSF).
	AutoRestartInterval time.Duration
}

// Message is one accepted WriteMessage.
type Message struct {
	Type          int
	Content       string
	OutputMessage bool
	LogLevel      string
	Time          time.Time
}

// Endpoint is one sbc.dsf.httpEndpoints entry.
type Endpoint struct {
	EndpointType, Namespace, Path string
	IsUploadRequest               bool
	UnixSocket                    string
}

// Twin is a running DCS + DWS twin. All methods are safe for concurrent use.
type Twin struct {
	opt      Options
	man      *manifest
	sockPath string
	sockDir  string
	sdRoot   string
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup // every goroutine the twin starts

	mu        sync.Mutex
	closed    bool
	ln        *net.UnixListener // nil while DCS is down
	connWG    sync.WaitGroup    // connection handlers of the current listener
	conns     map[*ipcConn]struct{}
	nextID    int
	pid       int
	data      []dataEntry
	endpoints []Endpoint
	messages  []Message
	commands  []json.RawMessage
	procs     map[*Process]struct{}
	plugin    *Process // started last
	// sessions maps the keys GET /machine/connect issued to session ids;
	// they outlive DCS restarts, as DWS's SessionStorage does.
	sessions    map[string]int
	lastSession int
	// autoRestarts counts the starts sbcAutoRestart made or tried.
	autoRestarts   int
	autoRestartErr error

	// The HTTP front.
	httpLn    net.Listener
	httpSrv   *http.Server
	httpURL   string
	routeMu   sync.Mutex
	routes    map[string]Endpoint
	routeDue  []routeUpdate
	routeWake chan struct{}
	fwdMu     sync.Mutex
	fwdConns  map[net.Conn]struct{}

	// replyHook, if set, replaces DCS's replies (SetReplyHook).
	replyHook func(command string, reply []byte) []byte
}

// Start creates the directories, starts DCS on its UNIX socket and the DWS
// front on 127.0.0.1 with a random port.
func Start(opt Options) (*Twin, error) {
	if opt.Dir == "" {
		return nil, errors.New("dsftest: Options.Dir is required")
	}
	if opt.Profile == "" {
		opt.Profile = Profile36
	}
	if opt.Profile != Profile35 && opt.Profile != Profile36 {
		return nil, fmt.Errorf("dsftest: unknown profile %q", opt.Profile)
	}
	if opt.RouteDelay <= 0 {
		opt.RouteDelay = 100 * time.Millisecond
	}
	if opt.AutoRestartInterval <= 0 {
		opt.AutoRestartInterval = 2 * time.Second
	}
	man, err := parseManifest(opt.Manifest)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opt.Dir)
	if err != nil {
		return nil, err
	}
	t := &Twin{
		opt:       opt,
		man:       man,
		sockDir:   filepath.Join(dir, "run", "dsf"),
		sdRoot:    filepath.Join(dir, "sd"),
		conns:     map[*ipcConn]struct{}{},
		procs:     map[*Process]struct{}{},
		sessions:  map[string]int{},
		routes:    map[string]Endpoint{},
		routeWake: make(chan struct{}, 1),
		fwdConns:  map[net.Conn]struct{}{},
	}
	t.sockPath = filepath.Join(t.sockDir, "dcs.sock")
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.resetModel()
	if err := os.MkdirAll(t.sockDir, 0o770); err != nil {
		return nil, err
	}
	// A fresh DSF install has these SD directories.
	for _, d := range []string{"filaments", "firmware", "gcodes", "macros", "menu", "sys", "www"} {
		if err := os.MkdirAll(filepath.Join(t.sdRoot, d), 0o775); err != nil {
			return nil, err
		}
	}
	if err := t.startHTTP(); err != nil {
		return nil, err
	}
	t.wg.Add(1)
	go t.routeLoop()
	if err := t.listen(); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// resetModel is the OM as a freshly started DCS builds it. Callers hold t.mu
// or own t exclusively.
func (t *Twin) resetModel() {
	t.pid = -1
	t.data = append([]dataEntry(nil), t.man.data...)
	t.endpoints = nil
	// Connection ids restart with the process; the first one is 2.
	t.nextID = 1
}

// listen starts accepting IPC connections. Like DCS it deletes a leftover
// socket file first.
func (t *Twin) listen() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errors.New("dsftest: twin is closed")
	}
	if t.ln != nil {
		return nil
	}
	if err := os.Remove(t.sockPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: t.sockPath, Net: "unix"})
	if err != nil {
		return err
	}
	// Removing the file is ours to do (DCS deletes it on shutdown), not the
	// listener's on Close.
	ln.SetUnlinkOnClose(false)
	t.ln = ln
	t.wg.Add(1)
	go t.acceptLoop(ln)
	return nil
}

// down stops listening, removes the socket file and drops every IPC
// connection, then waits for their handlers to finish.
func (t *Twin) down() {
	t.mu.Lock()
	ln := t.ln
	t.ln = nil
	if ln != nil {
		ln.Close()
		os.Remove(t.sockPath)
	}
	for c := range t.conns {
		c.conn.Close()
	}
	t.mu.Unlock()
	t.connWG.Wait()
}

// Close stops everything: plugin processes started with StartPlugin first
// (as DPS stops before DCS), then DCS and the HTTP front. It removes the DCS
// socket file (DCS does that on shutdown) and nothing the plugin created.
func (t *Twin) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	var procs []*Process
	for p := range t.procs {
		procs = append(procs, p)
	}
	t.mu.Unlock()
	var stopping sync.WaitGroup
	for _, p := range procs {
		stopping.Add(1)
		go func() {
			defer stopping.Done()
			p.Stop()
		}()
	}
	stopping.Wait()
	t.down()
	t.cancel()
	if t.httpSrv != nil {
		t.httpSrv.Close()
	}
	t.fwdMu.Lock()
	for c := range t.fwdConns {
		c.Close()
	}
	t.fwdMu.Unlock()
	t.wg.Wait()
	return nil
}

// SocketPath is the DCS socket, Dir+"/run/dsf/dcs.sock".
func (t *Twin) SocketPath() string { return t.sockPath }

// HTTPURL is the DWS front, "http://127.0.0.1:PORT".
func (t *Twin) HTTPURL() string { return t.httpURL }

// SDRoot is the directory 0:/ maps to.
func (t *Twin) SDRoot() string { return t.sdRoot }

// SetPluginPID does what DPS's SetPluginProcess does: -1 stopped, 0
// stopping, >0 running. Only a connection from this exact pid counts as the
// plugin.
func (t *Twin) SetPluginPID(pid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pid = pid
}

// Restart is a DCS restart: every IPC connection is closed, the socket file
// disappears for downFor, the object model is rebuilt (no HTTP endpoints,
// plugin data back to the manifest defaults, pid -1, no messages), then DCS
// listens again. It returns once DCS is back. The HTTP front keeps its old
// routes until it has reconnected (RouteDelay after DCS is back), as DWS
// does.
func (t *Twin) Restart(downFor time.Duration) error {
	t.down()
	t.mu.Lock()
	t.resetModel()
	t.mu.Unlock()
	if err := t.sleep(downFor); err != nil {
		return err
	}
	if err := t.listen(); err != nil {
		return err
	}
	t.scheduleRoutes(true)
	return nil
}

// Stop makes DCS unavailable (socket file removed, all IPC connections
// closed) until Resume. Unlike Restart it keeps the object model, for tests
// of a client's reconnect logic alone.
func (t *Twin) Stop() error {
	t.down()
	return nil
}

// Resume listens again after Stop.
func (t *Twin) Resume() error {
	if err := t.listen(); err != nil {
		return err
	}
	t.scheduleRoutes(true)
	return nil
}

func (t *Twin) sleep(d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-t.ctx.Done():
		return errors.New("dsftest: twin is closed")
	}
}

// PluginData is the current value of a plugin data key, verbatim as the last
// SetPluginData sent it (or as the manifest declared it).
func (t *Twin) PluginData(key string) (json.RawMessage, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, d := range t.data {
		if d.key == key {
			return append(json.RawMessage(nil), d.value...), true
		}
	}
	return nil, false
}

// Messages is the history of accepted WriteMessage commands (blank content
// is dropped, as DCS drops it). It survives restarts.
func (t *Twin) Messages() []Message {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Message(nil), t.messages...)
}

// Endpoints is the current sbc.dsf.httpEndpoints.
func (t *Twin) Endpoints() []Endpoint {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Endpoint(nil), t.endpoints...)
}

// Commands returns every object received on Command-mode connections, raw.
func (t *Twin) Commands() []json.RawMessage {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]json.RawMessage, len(t.commands))
	for i, c := range t.commands {
		out[i] = append(json.RawMessage(nil), c...)
	}
	return out
}

// SetReplyHook makes DCS a broken or hostile peer, for tests of what a
// client does with what real DCS would never send: every reply to a
// Command-mode command is passed through hook with the command's name as
// sent (empty if it had none), and hook's result is sent instead; nil
// closes the connection without a reply. A nil hook restores DCS.
func (t *Twin) SetReplyHook(hook func(command string, reply []byte) []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.replyHook = hook
}

// Connections is the number of open IPC connections.
func (t *Twin) Connections() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}
