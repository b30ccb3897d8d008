package dsftest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// The DWS front (src/DuetWebServer/Middleware/CustomEndpointMiddleware.cs):
// custom endpoints routed by method and path to a new UNIX connection per
// request, plus the two file upload routes usbStream's config watcher has
// to cope with.

type routeUpdate struct {
	due     time.Time
	initial bool // DWS (re)connected and builds its table from a fresh model
}

func (t *Twin) startHTTP() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	t.httpLn = ln
	t.httpURL = "http://" + ln.Addr().String()
	t.httpSrv = &http.Server{Handler: t, ReadHeaderTimeout: time.Minute}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.httpSrv.Serve(ln)
	}()
	return nil
}

// scheduleRoutes makes the route table follow the model after RouteDelay,
// standing in for DWS's patch subscription.
func (t *Twin) scheduleRoutes(initial bool) {
	t.routeMu.Lock()
	t.routeDue = append(t.routeDue, routeUpdate{due: time.Now().Add(t.opt.RouteDelay), initial: initial})
	t.routeMu.Unlock()
	select {
	case t.routeWake <- struct{}{}:
	default:
	}
}

func (t *Twin) routeLoop() {
	defer t.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		t.routeMu.Lock()
		var next *routeUpdate
		if len(t.routeDue) > 0 {
			u := t.routeDue[0]
			next = &u
		}
		t.routeMu.Unlock()
		var fire <-chan time.Time
		if next != nil {
			d := time.Until(next.due)
			if d <= 0 {
				t.routeMu.Lock()
				t.routeDue = t.routeDue[1:]
				t.routeMu.Unlock()
				t.rebuildRoutes(next.initial)
				continue
			}
			timer.Reset(d)
			fire = timer.C
		}
		select {
		case <-t.ctx.Done():
			return
		case <-t.routeWake:
		case <-fire:
		}
	}
}

// rebuildRoutes is ModelObserver's table: "<EndpointType>/machine/<ns>/<path>".
// Only the table built right after (re)connecting maps the "rr_" namespace
// to /rr_<path>; updates do not.
func (t *Twin) rebuildRoutes(initial bool) {
	t.mu.Lock()
	eps := append([]Endpoint(nil), t.endpoints...)
	t.mu.Unlock()
	routes := make(map[string]Endpoint, len(eps))
	for _, e := range eps {
		key := e.EndpointType + "/machine/" + e.Namespace + "/" + e.Path
		if initial && e.Namespace == "rr_" {
			key = e.EndpointType + "/rr_" + e.Path
		}
		routes[key] = e
	}
	t.routeMu.Lock()
	t.routes = routes
	t.routeMu.Unlock()
}

// enter registers a request with the twin's WaitGroup so Close waits for it.
func (t *Twin) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	return true
}

func (t *Twin) dcsUp() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ln != nil
}

// ServeHTTP is the DWS pipeline: the MVC controllers the twin emulates
// first, then the custom endpoints, then 404 (static files would not find
// anything under /machine either).
func (t *Twin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !t.enter() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	defer t.wg.Done()
	p := requestPath(r)
	lower := strings.ToLower(p)
	switch {
	case strings.HasPrefix(lower, "/machine/file/") || lower == "/machine/file":
		name := strings.TrimPrefix(p[len("/machine/file"):], "/")
		switch r.Method {
		case http.MethodPut:
			t.putFile(w, r, name)
			return
		case http.MethodGet:
			t.getFile(w, r, name)
			return
		}
	case lower == "/rr_upload" && r.Method == http.MethodPost:
		t.rrUpload(w, r)
		return
	case lower == "/machine/connect" && r.Method == http.MethodGet:
		t.connect(w, r)
		return
	}
	method := r.Method
	if isWebSocket(r) {
		method = "WebSocket"
	}
	t.routeMu.Lock()
	ep, ok := t.routes[method+p]
	t.routeMu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	t.forward(w, r, ep)
}

func isWebSocket(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

// track lets Close abort a forwarded request that a plugin never answers;
// DWS itself has no timeout.
func (t *Twin) track(c net.Conn, on bool) {
	t.fwdMu.Lock()
	defer t.fwdMu.Unlock()
	if on {
		if t.ctx.Err() != nil {
			c.Close() // Close has already swept the set
			return
		}
		t.fwdConns[c] = struct{}{}
	} else {
		delete(t.fwdConns, c)
	}
}

// forward is CustomEndpointMiddleware for a REST request: a new UNIX
// connection, one ReceivedHttpRequest, one SendHttpResponse, and the
// connection stays open until the HTTP body has been written. Anything that
// goes wrong before the response starts is an HTTP 500 with an empty body,
// as an unhandled exception in Kestrel is.
func (t *Twin) forward(w http.ResponseWriter, r *http.Request, ep Endpoint) {
	conn, err := net.Dial("unix", ep.UnixSocket)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	t.track(conn, true)
	defer func() {
		conn.Close()
		t.track(conn, false)
	}()
	if ep.EndpointType == "WebSocket" {
		// Not part of DWS: WebSocket endpoints are not emulated.
		http.Error(w, "dsftest does not emulate WebSocket endpoints", http.StatusNotImplemented)
		return
	}
	// The first key DWS knows names the session; unknown keys are -1.
	sessionID := -1
	for _, k := range r.Header.Values("X-Session-Key") {
		if id := t.sessionID(k); id != -1 {
			sessionID = id
			break
		}
	}
	var body string
	if ep.IsUploadRequest {
		if body, err = t.uploadTemp(r, conn); err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
	} else {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		body = decodeBody(b)
	}
	var contentType any
	if _, ok := r.Header["Content-Type"]; ok {
		contentType = r.Header.Get("Content-Type")
	}
	req := ordered{{"sessionId", sessionID}, {"queries", t.dictKeys(parseQuery(r.URL.RawQuery))},
		{"headers", t.dictKeys(requestHeaders(r))}, {"contentType", contentType}, {"body", body}}
	if _, err := conn.Write(marshal(req)); err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	raw, err := readObject(bufio.NewReader(conn))
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	resp, derr := t.parseHTTPResponse(raw)
	if derr != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	t.respond(w, r, resp, body)
}

// uploadTemp writes the body where Path.GetTempFileName would (mode 0600),
// hands it to the listening process's user and returns its path. The file
// is never deleted: that is the plugin's job.
func (t *Twin) uploadTemp(r *http.Request, conn net.Conn) (string, error) {
	f, err := os.CreateTemp("", "tmp*.tmp")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, r.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if uc, ok := conn.(*net.UnixConn); ok {
		if _, uid, gid := peerCred(uc); uid > 0 && gid > 0 {
			os.Lchown(f.Name(), uid, gid)
		}
	}
	return f.Name(), nil
}

// connect is GET /machine/connect?password=: DCS adds a user session and
// DWS answers a new random key for it. The twin's machine has no password
// (M551), as on a fresh install, so DCS's check passes whatever is sent
// (src/DuetControlServer/Commands/Generic/CheckPassword.cs).
func (t *Twin) connect(w http.ResponseWriter, r *http.Request) {
	key := make([]byte, 16)
	rand.Read(key)
	t.mu.Lock()
	t.lastSession++
	id := t.lastSession
	t.sessions[hex.EncodeToString(key)] = id
	t.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write(marshal(ordered{{"sessionKey", hex.EncodeToString(key)}}))
}

// sessionID is SessionStorage.GetSessionId: the id of a key DWS issued,
// -1 for any other.
func (t *Twin) sessionID(key string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.sessions[key]; ok {
		return id
	}
	return -1
}
