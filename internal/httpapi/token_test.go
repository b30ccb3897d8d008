package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"usbstream/internal/frame"
	"usbstream/internal/status"
	"usbstream/internal/stream"
)

const testToken = "Tk9-abcdefgh.ijkl_mnop~q"

// tokenForms are the URL forms a token may come in on the picture and
// viewer routes: ours, mjpg-streamer's, DWC's ?dummy= and useFix
// cache-busters (useFix appends "_<random>" to the end of the URL, which
// is the token's value when the token comes last).
var tokenForms = []string{
	"/stream?token=T",
	"/stream.mjpg?token=T",
	"/stream_0.42?token=T",
	"/stream?token=T_0.42",
	"/stream?dummy=0.3&token=T",
	"/stream?token=T&dummy=0.3",
	"/stream?fps=2&token=T",
	"/?action=stream&token=T",
	"/?token=T&action=stream_0.7",
	"/?action=stream_0&token=T_0.7",
	"/snapshot?token=T",
	"/snapshot.jpg?token=T",
	"/snapshot.jpg_0.5?token=T",
	"/snapshot?token=T_0.31",
	"/snapshot?max_delay=60000_0.31&token=T",
	"/?action=snapshot&token=T",
	"/?action=snapshot_0.123&token=T&dummy=0.55",
	"/?action=snapshot&token=T_0.123",
	"/?token=T",
	"/?token=T&dummy=0.9",
	"/index.html?token=T",
	"/_0.5?token=T",
}

func withToken(form, tok string) string { return strings.ReplaceAll(form, "T", url.QueryEscape(tok)) }

// The token opens the stream, the snapshot and the viewer in every URL
// form, with basic auth configured too; basic auth works as before.
func TestTokenOpensPictureRoutes(t *testing.T) {
	f := newFixture(t, Options{User: "printer", Password: "pw", Token: testToken})
	f.publish(jpegBody, time.Now())
	for _, form := range tokenForms {
		path := withToken(form, testToken)
		method := "GET"
		if strings.Contains(form, "stream") {
			method = "HEAD" // the headers say whether it was let in; GET is below
		}
		resp, body := f.get(t, method, path)
		if resp.StatusCode != 200 {
			t.Errorf("%s %s: %d %q", method, path, resp.StatusCode, body)
		}
	}
	// A real stream with the token sends frames.
	resp, err := http.Get(f.srv.URL + "/stream?token=" + testToken)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream with the token: %v %v", resp, err)
	}
	part := make([]byte, 200)
	n, _ := io.ReadAtLeast(resp.Body, part, 100)
	resp.Body.Close()
	if !bytes.Contains(part[:n], []byte("test-frame")) {
		t.Fatalf("the stream sent no frame: %q", part[:n])
	}
	// Basic auth is unchanged.
	req, _ := http.NewRequest("GET", f.srv.URL+"/snapshot", nil)
	req.SetBasicAuth("printer", "pw")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("basic auth with a token configured: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// A missing, empty, cut, extended or altered token is refused as no
// credentials are, with basic auth's challenge; the token does not open
// /status or /cameras, whose documents are for the owner.
func TestWrongTokenIsRefused(t *testing.T) {
	f := newFixture(t, Options{User: "printer", Password: "pw", Token: testToken,
		Cameras: func() (any, error) { return []string{}, nil }})
	f.publish(jpegBody, time.Now())
	wrong := []string{"", testToken[:len(testToken)-1], testToken + "x", "x" + testToken[1:],
		strings.ToUpper(testToken), testToken[:16], " " + testToken, "_" + testToken}
	for _, form := range []string{"/stream?token=T", "/snapshot?token=T", "/?action=snapshot&token=T", "/?token=T"} {
		for _, tok := range wrong {
			path := withToken(form, tok)
			resp, _ := f.get(t, "GET", path)
			if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("GET %s: %d %v, want 401 with the basic challenge", path, resp.StatusCode, resp.Header)
			}
		}
	}
	for _, path := range []string{"/snapshot?tokens=T", "/snapshot?Token=T", "/snapshot?t=T", "/snapshot/T"} {
		path = withToken(path, testToken)
		if resp, _ := f.get(t, "GET", path); resp.StatusCode != 401 {
			t.Errorf("GET %s: %d, want 401", path, resp.StatusCode)
		}
	}
	for _, path := range []string{"/status?token=T", "/cameras?token=T"} {
		path = withToken(path, testToken)
		if resp, _ := f.get(t, "GET", path); resp.StatusCode != 401 {
			t.Errorf("GET %s: %d, want 401 (the token opens the pictures only)", path, resp.StatusCode)
		}
	}
}

// -token alone protects every route: the token (in the URL, or as a
// Bearer header) or nothing. Its 401 challenges for a Bearer token, since
// there is no user and password a browser could prompt for.
func TestTokenWithoutBasicAuth(t *testing.T) {
	f := newFixture(t, Options{Token: testToken})
	f.publish(jpegBody, time.Now())
	for _, path := range []string{"/stream", "/snapshot", "/?action=snapshot", "/", "/status", "/snapshot?token=nope"} {
		resp, body := f.get(t, "GET", path)
		if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") ||
			!strings.Contains(body, "token") {
			t.Errorf("GET %s without the token: %d %v %q", path, resp.StatusCode, resp.Header, body)
		}
	}
	if resp, body := f.get(t, "GET", "/snapshot?token="+testToken); resp.StatusCode != 200 || body != string(jpegBody) {
		t.Errorf("snapshot with the token: %d %q", resp.StatusCode, body)
	}
	if resp, _ := f.get(t, "GET", "/snapshot", "Authorization", "Bearer "+testToken); resp.StatusCode != 200 {
		t.Errorf("snapshot with a Bearer header: %d", resp.StatusCode)
	}
	if resp, _ := f.get(t, "GET", "/snapshot", "Authorization", "Bearer "+testToken+"x"); resp.StatusCode != 401 {
		t.Errorf("snapshot with a wrong Bearer header: %d", resp.StatusCode)
	}
	// Basic credentials of any kind mean nothing without -user.
	req, _ := http.NewRequest("GET", f.srv.URL+"/snapshot", nil)
	req.SetBasicAuth("", "")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("empty basic credentials: %v %v", resp, err)
	}
}

// The viewer page opened with the token passes it on to its own stream
// and snapshot requests (an iframe has no other way to carry it); opened
// with basic auth or without any, it keeps its plain relative URLs.
func TestViewerPassesTheTokenOn(t *testing.T) {
	f := newFixture(t, Options{User: "printer", Password: "pw", Token: testToken})
	resp, body := f.get(t, "GET", "/?token="+testToken+"&dummy=1")
	if resp.StatusCode != 200 {
		t.Fatalf("viewer with the token: %d", resp.StatusCode)
	}
	for _, want := range []string{`src="stream?token=` + testToken + `"`, `href="stream?token=` + testToken + `"`,
		`href="snapshot?token=` + testToken + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the viewer page lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, `href="status`) {
		t.Errorf("the viewer page opened with the token links /status, which the token does not open")
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/", nil)
	req.SetBasicAuth("printer", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `src="stream"`) || strings.Contains(string(b), testToken) {
		t.Errorf("the viewer page under basic auth:\n%s", b)
	}
}

// No log line, at debug level, shows the token: not a stream's URL, not a
// refused client's, not the client list in /status.
func TestTokenIsNeverLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zap.DebugLevel)
		hub := stream.NewHub()
		clients := stream.NewRegistry()
		var lastStatus []stream.ClientInfo
		api := New(hub, clients, func() status.Status { return status.Status{Clients: clients.List(time.Now())} },
			func(string) *frame.Frame { return &frame.Frame{JPEG: jpegBody, Captured: time.Now()} },
			Options{User: "printer", Password: "pw", Token: testToken, MaxClients: 1, Version: "test"}, zap.New(core))
		c := serveInMemory(t, api).client("127.0.0.1")
		hub.Publish(&frame.Frame{JPEG: jpegBody, Captured: time.Now()})

		resp, err := c.Get(memURL + "/stream?fps=5&token=" + testToken + "_0.42")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("stream: %v %v", resp, err)
		}
		bufio.NewReader(resp.Body).ReadString('\n')
		// Over the limit: the refusal is logged with the URL.
		if r, err := c.Get(memURL + "/snapshot?token=" + testToken); err != nil || r.StatusCode != 503 {
			t.Fatalf("snapshot over the limit: %v %v", r, err)
		} else {
			r.Body.Close()
		}
		req, _ := http.NewRequest("GET", memURL+"/status", nil)
		req.SetBasicAuth("printer", "pw")
		if r, err := c.Do(req); err == nil {
			var st status.Status
			json.NewDecoder(r.Body).Decode(&st)
			r.Body.Close()
			lastStatus = st.Clients
		}
		resp.Body.Close()
		synctest.Wait()
		if n := logs.FilterMessage("stream client disconnected").Len(); n != 1 {
			t.Fatalf("%d lines saying the stream client left, want 1", n)
		}

		if len(lastStatus) != 1 || !strings.Contains(lastStatus[0].Path, "token=***") ||
			strings.Contains(lastStatus[0].Path, testToken[:8]) || !strings.Contains(lastStatus[0].Path, "fps=5") {
			t.Errorf("/status clients: %+v, want the stream's path with the token replaced", lastStatus)
		}
		var all strings.Builder
		enc := zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig())
		for _, e := range logs.All() {
			buf, _ := enc.EncodeEntry(e.Entry, e.Context)
			all.Write(buf.Bytes())
		}
		if !strings.Contains(all.String(), "token=***") || !strings.Contains(all.String(), "client refused") {
			t.Fatalf("the logs lack the URLs this test is about:\n%s", all.String())
		}
		if strings.Contains(all.String(), testToken[:8]) {
			t.Fatalf("the log shows the token:\n%s", all.String())
		}
	})
}

// A reload's new token applies to the next request, and ends the streams
// the old token opened; a stream opened with the user and password keeps
// running, since those did not change.
func TestNewTokenAppliesAndEndsOldTokensStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, n := newMemFixture(t, Options{User: "printer", Password: "pw", Token: testToken})
		f.publish(jpegBody, time.Now())
		c := n.client("127.0.0.1")
		open := func(path string, basic bool) *bufio.Reader {
			t.Helper()
			conn := n.open(t, "127.0.0.1")
			auth := ""
			if basic {
				auth = "Authorization: Basic cHJpbnRlcjpwdw==\r\n" // printer:pw
			}
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", path, auth)
			br := bufio.NewReader(conn)
			if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s: %v %v", path, resp, err)
			}
			return br
		}
		byToken := open("/stream?token="+testToken, false)
		byBasic := open("/stream", true)
		synctest.Wait()
		if n := len(f.api.clients.List(time.Now())); n != 2 {
			t.Fatalf("%d clients, want the two streams", n)
		}

		const next = "Zz0-another-token-0123"
		f.api.SetAccess(Access{User: "printer", Password: "pw", Token: next})
		if _, err := io.Copy(io.Discard, byToken); err != nil {
			t.Fatalf("the old token's stream did not end cleanly: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
		if n := len(f.api.clients.List(time.Now())); n != 1 {
			t.Fatalf("%d clients after the token changed, want the basic-auth stream alone", n)
		}
		if _, err := byBasic.ReadString('\n'); err != nil {
			t.Fatalf("the basic-auth stream ended with the token change: %v", err)
		}
		if resp, _ := do(t, c, "GET", memURL+"/snapshot?token="+testToken); resp.StatusCode != 401 {
			t.Errorf("the old token after the change: %d", resp.StatusCode)
		}
		if resp, _ := do(t, c, "GET", memURL+"/snapshot?token="+next); resp.StatusCode != 200 {
			t.Errorf("the new token: %d", resp.StatusCode)
		}
		// No token any more: the old one opens nothing, basic auth still works.
		f.api.SetAccess(Access{User: "printer", Password: "pw"})
		if resp, _ := do(t, c, "GET", memURL+"/snapshot?token="+next); resp.StatusCode != 401 {
			t.Errorf("a token after -token was removed: %d", resp.StatusCode)
		}
	})
}

// The token is checked in constant time: the function that checks it
// compares digests with crypto/subtle and never compares the token with
// == or a strings/bytes function that stops at the first difference. A
// timing measurement would be noise on a shared machine; this guards the
// code against a well-meant "simplification".
func TestTokenComparedInConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "auth.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var fn *ast.FuncDecl
	for _, d := range file.Decls {
		if f, ok := d.(*ast.FuncDecl); ok && f.Name.Name == "tokenOK" {
			fn = f
		}
	}
	if fn == nil {
		t.Fatal("auth.go has no tokenOK")
	}
	subtle := false
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok {
				switch {
				case x.Name == "subtle" && n.Sel.Name == "ConstantTimeCompare":
					subtle = true
				case (x.Name == "strings" || x.Name == "bytes") && n.Sel.Name != "TrimRight":
					t.Errorf("%s: tokenOK uses %s.%s", fset.Position(n.Pos()), x.Name, n.Sel.Name)
				}
			}
		case *ast.BinaryExpr:
			// Lengths and single bytes are not the secret; anything else
			// compared with == could be.
			if (n.Op == token.EQL || n.Op == token.NEQ) && !harmless(n.X) && !harmless(n.Y) {
				t.Errorf("%s: tokenOK compares with %s", fset.Position(n.Pos()), n.Op)
			}
		}
		return true
	})
	if !subtle {
		t.Error("tokenOK does not use subtle.ConstantTimeCompare")
	}
}

// harmless: a literal, a length or nil, which an == may compare.
func harmless(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return e.Name == "nil"
	case *ast.CallExpr:
		f, ok := e.Fun.(*ast.Ident)
		return ok && f.Name == "len"
	}
	return false
}
