package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"html"
	"net/http"
	"net/url"
	"strings"
)

// Access is who may read and from which origin.
type Access struct {
	// User and Password enable basic auth on every route when User is set.
	User, Password string
	// Token, when set, opens the stream, snapshot and viewer routes (not
	// /status or /cameras) to a request that carries it as ?token= or as
	// "Authorization: Bearer". Browsers send no credentials that are part
	// of an <img> or <iframe> URL (http://user:pw@host/), so the token is
	// how DWC's webcam panel and httpViewer get in. With a Token and no
	// User, the token is the only way in.
	Token string
	// AllowOrigin, when set, is sent as Access-Control-Allow-Origin.
	AllowOrigin string
}

// grant is one way in. Its context ends when that way is closed or its
// credentials change, and with it the streams and waiting snapshots it
// admitted: a viewer must not keep a picture that new credentials protect.
type grant struct {
	key    [32]byte
	valid  context.Context
	revoke context.CancelFunc
}

// access is the Access in force, prepared for checking requests.
type access struct {
	user, allowOrigin  string
	userHash, passHash [32]byte
	tokenHash          [32]byte
	tokenLen           int
	// The ways in; nil where there is none. open exists exactly when
	// neither basic nor token does.
	open, basic, token *grant
	viewer             []byte // the viewer page that passes the token on
}

// openKey names the grant of a port without auth.
var openKey = sha256.Sum256([]byte("usbStream: no auth"))

// SetAccess changes the credentials, the token and the allowed origin for
// requests from now on. Streams and waiting snapshots admitted by a way in
// that is gone or changed end: new credentials (or new protection of an
// open port) end those opened under the old ones or under none, a new
// token ends those the old token opened. A way in that did not change
// keeps its viewers, so a new token leaves basic-auth streams alone and a
// change of the origin alone ends nothing.
func (s *Server) SetAccess(in Access) {
	next := &access{user: in.User, allowOrigin: in.AllowOrigin,
		userHash: sha256.Sum256([]byte(in.User)), passHash: sha256.Sum256([]byte(in.Password)),
		tokenHash: sha256.Sum256([]byte(in.Token)), tokenLen: len(in.Token)}
	prev := s.access.Load()
	if prev == nil {
		prev = &access{}
	}
	if in.User != "" {
		next.basic = keep(prev.basic, sha256.Sum256(append(next.userHash[:], next.passHash[:]...)))
	}
	if in.Token != "" {
		next.token = keep(prev.token, next.tokenHash)
		next.viewer = viewerWithToken(in.Token)
	}
	if next.basic == nil && next.token == nil {
		next.open = keep(prev.open, openKey)
	}
	s.access.Store(next)
	for _, g := range [][2]*grant{{prev.open, next.open}, {prev.basic, next.basic}, {prev.token, next.token}} {
		if g[0] != nil && g[0] != g[1] {
			g[0].revoke()
		}
	}
}

// Protected reports whether the access in force needs credentials (a user
// and password, or the token). Routes outside this server that hand out
// the same pictures (DSF's snapshot endpoint) ask it, so that they are
// protected exactly from the moment the port is.
func (s *Server) Protected() bool {
	a := s.access.Load()
	return a != nil && a.open == nil
}

// keep returns prev if it is the grant for key, else a new one.
func keep(prev *grant, key [32]byte) *grant {
	if prev != nil && prev.key == key {
		return prev
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &grant{key: key, valid: ctx, revoke: cancel}
}

// underGrant is r with a context that also ends when g is revoked.
func underGrant(r *http.Request, g *grant) (*http.Request, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(g.valid, cancel)
	return r.WithContext(ctx), func() { stop(); cancel() }
}

// tokenRoute reports whether the token opens rt: the pictures and the
// page that shows them. /status and /cameras are the owner's (they list
// the clients' addresses and the cameras), and a token travels in URLs
// that end up in browser histories.
func tokenRoute(rt route) bool {
	return rt == routeStream || rt == routeSnapshot || rt == routeViewer || rt == routeFavicon
}

// admit returns the way in r may use for rt, or nil.
func (a *access) admit(r *http.Request, rt route) *grant {
	switch {
	case a.open != nil:
		return a.open
	case a.basic != nil && a.basicOK(r):
		return a.basic
	case a.token != nil && tokenRoute(rt) && a.tokenOK(presentedToken(r)):
		return a.token
	}
	return nil
}

// refuse answers a request that brought no valid credentials. With basic
// auth the answer is what it always was, so that browsers prompt and
// clients retry with the user and password; with only a token there is
// nothing to prompt for, and the message says what is missing.
func (a *access) refuse(w http.ResponseWriter, rt route) {
	if a.basic != nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="usbStream", charset="UTF-8"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="usbStream"`)
	msg := "authentication required: add ?token= with usbStream's -token to the URL"
	if !tokenRoute(rt) {
		msg = "authentication required: the token opens only the stream, the snapshot and the viewer page; " +
			"this needs -user and -password (or use the usbStream tab in DWC)"
	}
	http.Error(w, msg, http.StatusUnauthorized)
}

// basicOK checks basic-auth credentials in constant time. Hashing first
// makes the comparison independent of the lengths as well as the contents.
func (a *access) basicOK(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	u := sha256.Sum256([]byte(user))
	p := sha256.Sum256([]byte(pass))
	userOK := subtle.ConstantTimeCompare(u[:], a.userHash[:])
	passOK := subtle.ConstantTimeCompare(p[:], a.passHash[:])
	return userOK&passOK == 1
}

// presentedToken is the token r carries: the first ?token=, else a Bearer
// Authorization header.
func presentedToken(r *http.Request) string {
	if v, ok := r.URL.Query()["token"]; ok {
		return v[0]
	}
	if scheme, v, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(v)
	}
	return ""
}

// tokenOK checks v against the token in constant time (of the token's
// length: the length is no secret, a derived token always has 32
// characters). v may have what clients append after a URL: DWC's useFix
// cache-buster "_<random>" (the token is the last parameter of
// /stream?token=...), and the spaces httpViewer sends of a comment after
// the URL on its line.
func (a *access) tokenOK(v string) bool {
	v = strings.TrimRight(v, " \t")
	n := a.tokenLen
	if n < 1 || len(v) < n {
		return false
	}
	if rest := v[n:]; len(rest) > 0 && rest[0] != '_' {
		return false
	}
	h := sha256.Sum256([]byte(v[:n]))
	return subtle.ConstantTimeCompare(h[:], a.tokenHash[:]) == 1
}

// corsOrigin is the Access-Control-Allow-Origin for a request to rt, or
// "". An explicit -allow-origin wins ("none": never). Otherwise the
// pictures of a port without any auth may be read by any page, as
// mjpg-streamer allows (a dashboard's canvas, a failure detector's fetch);
// SECURITY.md weighs what that lets a page do. With auth, *
// is never sent: a page from anywhere must not read, through the owner's
// browser and its saved credentials or a token URL, what only the owner
// may see (see SECURITY.md).
func (a *access) corsOrigin(rt route) string {
	if a.allowOrigin == "none" {
		return ""
	}
	if a.allowOrigin != "" {
		return a.allowOrigin
	}
	if a.open != nil && (rt == routeStream || rt == routeSnapshot) {
		return "*"
	}
	return ""
}

// hideToken returns r with the value of every token parameter replaced
// by ***, for the log and the client list in /status.
func hideToken(r *http.Request) *http.Request {
	if r.URL.RawQuery == "" {
		return r
	}
	parts := strings.Split(r.URL.RawQuery, "&")
	changed := false
	for i, p := range parts {
		// Any case and any escaping: a mistyped ?Token= is a token too.
		k, _, _ := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if strings.EqualFold(name, "token") {
			parts[i], changed = k+"=***", true
		}
	}
	if !changed {
		return r
	}
	out := r.WithContext(r.Context())
	u := *r.URL
	u.RawQuery = strings.Join(parts, "&")
	out.URL = &u
	out.RequestURI = u.RequestURI()
	return out
}

// viewerWithToken is the viewer page whose stream and snapshot URLs carry
// token. The page has no status link then: the token does not open it.
func viewerWithToken(token string) []byte {
	q := html.EscapeString("?token=" + url.QueryEscape(token))
	page := bytes.ReplaceAll(viewerPage, []byte(`="stream"`), []byte(`="stream`+q+`"`))
	page = bytes.ReplaceAll(page, []byte(`="snapshot"`), []byte(`="snapshot`+q+`"`))
	return bytes.ReplaceAll(page, []byte(statusLink), nil)
}

// statusLink is the viewer page's link to /status, exactly as written.
const statusLink = `<a href="status" target="_blank">status</a>`
