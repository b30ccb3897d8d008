package app

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"usbstream/internal/dsf"
)

// snapshotDoor is where DWS fetches GET /machine/usbStream/snapshot from.
// DWS returns binary data only as a "file" response, always sent as
// application/octet-stream (a browser downloads it, DuetLapse3 rejects it),
// or as a "uri" response: DWS proxies the URL and copies the status and the
// headers, so the JPEG arrives as image/jpeg with its Content-Length.
//
// The door listens on loopback only (DWS runs on this machine; the stream
// port may be bound to one LAN address, or move), has no basic auth (DWS
// forwards no request header), and answers exactly one path, which holds a
// random token: another local program finds nothing there without it, and
// the token only ever travels over the endpoint's UNIX socket to DWS.
type snapshotDoor struct {
	*httpServer
	base   string // http://127.0.0.1:PORT
	secret []byte // the path's token
}

// doorPath is the one path the door answers, after the token.
const doorPath = "/snapshot"

// openSnapshotDoor listens on a free loopback port and serves until
// shutdown.
func (a *App) openSnapshotDoor(ctx context.Context) (*snapshotDoor, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	token := make([]byte, 16)
	rand.Read(token)
	d := &snapshotDoor{base: "http://" + ln.Addr().String(), secret: []byte(hex.EncodeToString(token))}
	d.httpServer = a.serve(ctx, ln, "127.0.0.1", http.HandlerFunc(a.serveDoor(d)), nil, a.log.Named("dsf"))
	return d, nil
}

// url is the address DWS is told to fetch for one DWC request: the door's
// path plus the parameters a snapshot understands, and the DWC session
// for the client list.
func (d *snapshotDoor) url(r *dsf.Request) string {
	q := url.Values{"session": {strconv.Itoa(r.SessionID)}}
	if v := r.Query("max_delay"); v != "" {
		q.Set("max_delay", v)
	}
	return d.base + "/" + string(d.secret) + doorPath + "?" + q.Encode()
}

// serveDoor answers the door's one path as /snapshot does, for the DWC
// session named in the URL; anything else is 404, whatever it is.
func (a *App) serveDoor(d *snapshotDoor) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		token, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if subtle.ConstantTimeCompare([]byte(token), d.secret) != 1 || "/"+rest != doorPath ||
			(r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		session := q.Get("session")
		q.Del("session")
		// The client list shows the DWC session and the public URL, never
		// the token.
		in := r.Clone(r.Context())
		in.URL = &url.URL{Path: "/machine/" + PluginID + "/snapshot", RawQuery: q.Encode()}
		in.RequestURI = in.URL.RequestURI()
		// Not host:port, so that each DWC session has its own share of
		// -maxclientsperip rather than all of them DWS's one address.
		in.RemoteAddr = "dwc-session-" + session
		if session == "" || strings.HasPrefix(session, "-") {
			in.RemoteAddr = "dwc-no-session"
		}
		a.api.ServeSnapshot(w, in)
	}
}

// errNoDoor: the door could not listen (no loopback interface?).
var errNoDoor = errors.New("the snapshot for DWC is not available: usbStream cannot listen on 127.0.0.1")
