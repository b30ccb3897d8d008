package dsftest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeEndpoint is a plugin's endpoint socket: it records each
// ReceivedHttpRequest exactly as received and answers with reply(raw).
type fakeEndpoint struct {
	mu    sync.Mutex
	reqs  []json.RawMessage
	eofs  int // connections the twin closed after the reply
	reply func(raw json.RawMessage) string
}

func serveEndpoint(t *testing.T, path string, reply func(json.RawMessage) string) *fakeEndpoint {
	t.Helper()
	ln := listenUnix(t, path)
	f := &fakeEndpoint{reply: reply}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(wait))
				br := bufio.NewReader(conn)
				raw, err := readObject(br)
				if err != nil {
					return
				}
				f.mu.Lock()
				f.reqs = append(f.reqs, raw)
				f.mu.Unlock()
				r := f.reply(raw)
				if r == "" {
					return // close without a reply
				}
				io.WriteString(conn, r)
				// DWS closes its end once the HTTP body is written.
				if _, err := br.ReadByte(); err == io.EOF {
					f.mu.Lock()
					f.eofs++
					f.mu.Unlock()
				}
			}()
		}
	}()
	return f
}

func (f *fakeEndpoint) last(t *testing.T) map[string]any {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("no request reached the endpoint")
	}
	return decode(t, f.reqs[len(f.reqs)-1])
}

// addEndpoint registers an endpoint and waits for the front to route it.
func addEndpoint(t *testing.T, tw *Twin, c *client, typ, path string, upload bool) string {
	t.Helper()
	sock := result(t, c.call(fmt.Sprintf(`{"command":"AddHttpEndpoint","endpointType":%q,"namespace":"usbStream","path":%q,"isUploadRequest":%v}`,
		typ, path, upload))).(string)
	eventually(t, "the route", func() bool {
		tw.routeMu.Lock()
		defer tw.routeMu.Unlock()
		_, ok := tw.routes[typ+"/machine/usbStream/"+path]
		return ok
	})
	return sock
}

var httpClient = &http.Client{Timeout: wait}

func do(t *testing.T, method, url, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body = nil
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestForwardRequest(t *testing.T) {
	for _, p := range []Profile{Profile35, Profile36} {
		t.Run(string(p), func(t *testing.T) {
			tw := startTwin(t, Options{Profile: p})
			c := command(t, tw)
			sock := addEndpoint(t, tw, c, "POST", "status", false)
			ep := serveEndpoint(t, sock, func(json.RawMessage) string {
				return `{"statusCode":200,"response":"{\"streaming\":true}","responseType":"json"}`
			})
			req, _ := http.NewRequest("POST", tw.HTTPURL()+"/machine/usbStream/status?verbose=1&a=x&A=y&sp=a+b%21", strings.NewReader("héllo"))
			sessionKey(t, tw, "") // the first session is 1, as DCS counts them
			k3x := sessionKey(t, tw, "")
			req.Header.Set("X-Session-Key", k3x)
			req.Header.Set("Content-Type", "text/plain")
			req.Header.Add("X-Multi", "1")
			req.Header.Add("X-Multi", "2")
			resp, err := httpClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != `{"streaming":true}` || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
			}
			got := ep.last(t)
			if len(got) != 5 || got["sessionId"] != json.Number("2") || got["contentType"] != "text/plain" || got["body"] != "héllo" {
				t.Fatalf("request %v", got)
			}
			q := got["queries"].(map[string]any)
			h := got["headers"].(map[string]any)
			host, multi, key, length := "Host", "X-Multi", "X-Session-Key", "Content-Length"
			if p == Profile35 {
				host, multi, key, length = "host", "x-Multi", "x-Session-Key", "content-Length"
			}
			if h[length] != "6" {
				t.Fatalf("headers %v", h)
			}
			if len(q) != 3 || q["verbose"] != "1" || q["a"] != "x,y" || q["sp"] != "a b!" {
				t.Fatalf("queries %v", q)
			}
			if h[host] != strings.TrimPrefix(tw.HTTPURL(), "http://") || h[multi] != "1,2" || h[key] != k3x {
				t.Fatalf("headers %v", h)
			}
			eventually(t, "the UNIX connection to close", func() bool {
				ep.mu.Lock()
				defer ep.mu.Unlock()
				return ep.eofs == 1
			})
		})
	}
}

func TestForwardDefaults(t *testing.T) {
	tw := startTwin(t, Options{})
	c := command(t, tw)
	sock := addEndpoint(t, tw, c, "GET", "status", false)
	ep := serveEndpoint(t, sock, func(json.RawMessage) string {
		return `{"statusCode":204,"response":"ignored","responseType":"statuscode"}`
	})
	resp, body := do(t, "GET", tw.HTTPURL()+"/machine/usbStream/status", "", nil)
	if resp.StatusCode != 204 || body != "" || resp.Header.Get("Content-Type") != "" {
		t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
	}
	got := ep.last(t)
	if got["sessionId"] != json.Number("-1") || got["contentType"] != nil || got["body"] != "" || len(got["queries"].(map[string]any)) != 0 {
		t.Fatalf("request %v", got)
	}
	if _, ok := got["contentType"]; !ok {
		t.Fatal("contentType must be present (null)")
	}
}

func TestResponseTypes(t *testing.T) {
	file := shortDir(t) + "/snap.jpg"
	os.WriteFile(file, []byte("\xff\xd8binary\x00\xff\xd9"), 0o644)
	cases := []struct {
		reply       string
		status      int
		body, ctype string
	}{
		{`{"statusCode":200,"response":"hi","responseType":"plaintext"}`, 200, "hi", "text/plain;charset=utf-8"},
		{`{"statusCode":201,"response":"hi","responseType":"plainText"}`, 201, "hi", "text/plain;charset=utf-8"},
		{`{"statusCode":200,"response":"[1]","responseType":"JSON"}`, 200, "[1]", "application/json"},
		{`{"statusCode":200,"response":"[1]","responseType":2}`, 200, "[1]", "application/json"},
		{`{"statusCode":404,"response":"x","responseType":"statuscode"}`, 404, "", ""},
		{`{"statusCode":404,"response":"x"}`, 404, "", ""},
		{`{"statusCode":200,"response":"` + file + `","responseType":"file"}`, 200, "\xff\xd8binary\x00\xff\xd9", "application/octet-stream"},
		// Failures before the response starts are an empty 500.
		{`{"statusCode":200,"response":"/nonexistent/x","responseType":"file"}`, 500, "", ""},
		{`{"statusCode":200,"response":"x","responseType":"url"}`, 500, "", ""},
		{`{"statusCode":200,"response":null,"responseType":"json"}`, 500, "", ""},
		{`{"statusCode":"200","response":"x","responseType":"json"}`, 500, "", ""},
		{`{"statusCode":200,"response":"x",}`, 500, "", ""},
		{``, 500, "", ""}, // EOF before a reply
	}
	tw := startTwin(t, Options{})
	c := command(t, tw)
	sock := addEndpoint(t, tw, c, "GET", "r", false)
	var mu sync.Mutex
	var reply string
	serveEndpoint(t, sock, func(json.RawMessage) string {
		mu.Lock()
		defer mu.Unlock()
		return reply
	})
	for _, tc := range cases {
		mu.Lock()
		reply = tc.reply
		mu.Unlock()
		resp, body := do(t, "GET", tw.HTTPURL()+"/machine/usbStream/r", "", nil)
		if resp.StatusCode != tc.status || body != tc.body || resp.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("%s: %d %q %q", tc.reply, resp.StatusCode, body, resp.Header.Get("Content-Type"))
		}
		if strings.Contains(tc.reply, `"file"`) && tc.status == 200 && (resp.ContentLength != -1 || resp.TransferEncoding[0] != "chunked") {
			t.Errorf("file response not chunked: %d %v", resp.ContentLength, resp.TransferEncoding)
		}
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatal("file response deleted the file")
	}
}

// 3.6's DWS reads SendHttpResponse case-sensitively: PascalCase leaves
// statusCode at 0, which breaks the status line. 3.5 reads any case.
func TestResponseCasing(t *testing.T) {
	reply := `{"StatusCode":200,"Response":"hi","ResponseType":"PlainText"}`
	for _, p := range []Profile{Profile35, Profile36} {
		tw := startTwin(t, Options{Profile: p})
		c := command(t, tw)
		serveEndpoint(t, addEndpoint(t, tw, c, "GET", "s", false), func(json.RawMessage) string { return reply })
		resp, err := httpClient.Get(tw.HTTPURL() + "/machine/usbStream/s")
		if p == Profile35 {
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != "hi" {
				t.Fatalf("3.5: %d %q", resp.StatusCode, b)
			}
			continue
		}
		if err == nil {
			resp.Body.Close()
			t.Fatalf("3.6: a PascalCase reply gave a valid response %d", resp.StatusCode)
		}
		if !strings.Contains(err.Error(), "malformed HTTP status code") {
			t.Fatalf("3.6: %v", err)
		}
	}
}

func TestRouting(t *testing.T) {
	tw := startTwin(t, Options{RouteDelay: 300 * time.Millisecond})
	c := command(t, tw)
	sock := result(t, c.call(`{"command":"AddHttpEndpoint","endpointType":"GET","namespace":"usbStream","path":"status"}`)).(string)
	serveEndpoint(t, sock, func(json.RawMessage) string { return `{"statusCode":200,"response":"ok","responseType":"plaintext"}` })
	url := tw.HTTPURL() + "/machine/usbStream/status"
	// The front learns about the endpoint only after RouteDelay.
	if resp, _ := do(t, "GET", url, "", nil); resp.StatusCode != 404 {
		t.Fatalf("routed at once: %d", resp.StatusCode)
	}
	eventually(t, "the route", func() bool { resp, _ := do(t, "GET", url, "", nil); return resp.StatusCode == 200 })
	for _, u := range []string{url + "/", tw.HTTPURL() + "/machine/usbstream/status", tw.HTTPURL() + "/machine/usbStream/Status"} {
		if resp, _ := do(t, "GET", u, "", nil); resp.StatusCode != 404 {
			t.Errorf("%s: %d", u, resp.StatusCode)
		}
	}
	for _, m := range []string{"HEAD", "POST"} {
		if resp, _ := do(t, m, url, "", nil); resp.StatusCode != 404 {
			t.Errorf("%s: %d", m, resp.StatusCode)
		}
	}
	if resp, body := do(t, "GET", url+"?x=1", "", nil); resp.StatusCode != 200 || body != "ok" {
		t.Errorf("with query: %d %q", resp.StatusCode, body)
	}
	if resp, _ := do(t, "GET", tw.HTTPURL()+"/machine/usbStream/./x/../status", "", nil); resp.StatusCode != 200 {
		t.Errorf("dot segments: %d", resp.StatusCode)
	}
	result(t, c.call(`{"command":"RemoveHttpEndpoint","endpointType":"GET","namespace":"usbStream","path":"status"}`))
	eventually(t, "the route to go", func() bool { resp, _ := do(t, "GET", url, "", nil); return resp.StatusCode == 404 })
}

// A registered endpoint whose plugin is gone answers 500, until the
// endpoint is removed.
func TestMissingSocket(t *testing.T) {
	tw := startTwin(t, Options{})
	c := command(t, tw)
	addEndpoint(t, tw, c, "GET", "status", false)
	resp, body := do(t, "GET", tw.HTTPURL()+"/machine/usbStream/status", "", nil)
	if resp.StatusCode != 500 || body != "" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

func TestUploadRequest(t *testing.T) {
	tw := startTwin(t, Options{})
	c := command(t, tw)
	sock := addEndpoint(t, tw, c, "PUT", "upload", true)
	ep := serveEndpoint(t, sock, func(json.RawMessage) string { return `{"statusCode":204,"responseType":"statuscode"}` })
	payload := "\x00\xffbinary"
	resp, _ := do(t, "PUT", tw.HTTPURL()+"/machine/usbStream/upload", payload, nil)
	if resp.StatusCode != 204 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	path := ep.last(t)["body"].(string)
	defer os.Remove(path)
	b, err := os.ReadFile(path)
	if err != nil || string(b) != payload {
		t.Fatalf("temp file %q: %q %v", path, b, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
}

func TestProxy(t *testing.T) {
	got := make(chan *http.Request, 1)
	gotBody := make(chan string, 1)
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		gotBody <- string(b)
		w.Header().Set("Content-Type", "multipart/x-mixed-replace;boundary=x")
		w.Header().Set("X-Up", "1")
		w.WriteHeader(202)
		io.WriteString(w, "frame1")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(wait):
		}
		io.WriteString(w, "frame2")
	}))
	defer up.Close()
	defer close(release)

	tw := startTwin(t, Options{})
	c := command(t, tw)
	sock := addEndpoint(t, tw, c, "POST", "stream", false)
	serveEndpoint(t, sock, func(json.RawMessage) string {
		return `{"statusCode":200,"response":"` + up.URL + `/s?q=1","responseType":"uri"}`
	})
	req, _ := http.NewRequest("POST", tw.HTTPURL()+"/machine/usbStream/stream", strings.NewReader("payload"))
	req.Header.Set("X-Original", "1")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 202 || resp.Header.Get("X-Up") != "1" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/x-mixed-replace") {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	// The first frame arrives while the upstream is still sending: streamed.
	buf := make([]byte, 6)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "frame1" {
		t.Fatalf("first frame %q %v", buf, err)
	}
	r := <-got
	if r.Method != "POST" || r.URL.String() != "/s?q=1" || r.Host != "127.0.0.1" || r.Header.Get("X-Original") != "" ||
		r.Header.Get("Content-Type") != "text/plain; charset=utf-8" || r.Header.Get("User-Agent") != "" {
		t.Fatalf("proxied request %s %s host=%s %v", r.Method, r.URL, r.Host, r.Header)
	}
	if b := <-gotBody; b != "payload" {
		t.Fatalf("proxied body %q", b)
	}
	release <- struct{}{}
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "frame2" {
		t.Fatalf("rest %q", rest)
	}
}

// Only the table DWS builds right after connecting maps the "rr_" namespace
// to /rr_<path>; the tables it rebuilds on patches do not.
func TestRRNamespaceQuirk(t *testing.T) {
	tw := startTwin(t, Options{})
	c := command(t, tw)
	sock := result(t, c.call(`{"command":"AddHttpEndpoint","namespace":"rr_","path":"thing"}`)).(string)
	serveEndpoint(t, sock, func(json.RawMessage) string { return `{"statusCode":200,"response":"ok","responseType":"plaintext"}` })
	eventually(t, "the patched route", func() bool {
		resp, _ := do(t, "GET", tw.HTTPURL()+"/machine/rr_/thing", "", nil)
		return resp.StatusCode == 200
	})
	tw.Stop()
	tw.Resume()
	eventually(t, "the reconnected table", func() bool {
		resp, _ := do(t, "GET", tw.HTTPURL()+"/rr_thing", "", nil)
		return resp.StatusCode == 200
	})
	if resp, _ := do(t, "GET", tw.HTTPURL()+"/machine/rr_/thing", "", nil); resp.StatusCode != 404 {
		t.Fatalf("old form still routed: %d", resp.StatusCode)
	}
}

// A single proxied answer (a snapshot): the upstream's status, not the
// plugin's, and its Content-Type and Content-Length, as DWS copies the
// response and content headers; an upstream that cannot be reached is a
// 500 with an empty body.
func TestProxyCopiesStatusTypeAndLength(t *testing.T) {
	jpeg := strings.Repeat("\xff\xd8jpeg\xff\xd9", 100)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Content-Length", itoa(len(jpeg)))
		w.Header().Set("X-Placeholder", "1")
		w.WriteHeader(503)
		io.WriteString(w, jpeg)
	}))
	defer up.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()

	tw := startTwin(t, Options{})
	c := command(t, tw)
	for _, tc := range []struct{ path, target string }{{"snap", up.URL + "/x"}, {"gone", dead.URL + "/x"}} {
		sock := addEndpoint(t, tw, c, "GET", tc.path, false)
		serveEndpoint(t, sock, func(json.RawMessage) string {
			return `{"statusCode":200,"response":"` + tc.target + `","responseType":"uri"}`
		})
	}
	var resp *http.Response
	var body string
	eventually(t, "the routes", func() bool {
		resp, body = do(t, "GET", tw.HTTPURL()+"/machine/usbStream/snap", "", nil)
		return resp.StatusCode != 404
	})
	if resp.StatusCode != 503 || resp.Header.Get("Content-Type") != "image/jpeg" || resp.ContentLength != int64(len(jpeg)) ||
		resp.Header.Get("X-Placeholder") != "1" || body != jpeg || len(resp.TransferEncoding) != 0 {
		t.Fatalf("%s %v te=%v, %d bytes", resp.Status, resp.Header, resp.TransferEncoding, len(body))
	}
	eventually(t, "the second route", func() bool {
		resp, body = do(t, "GET", tw.HTTPURL()+"/machine/usbStream/gone", "", nil)
		return resp.StatusCode != 404
	})
	if resp.StatusCode != 500 || len(body) != 0 {
		t.Fatalf("unreachable upstream: %s %q", resp.Status, body)
	}
}

// sessionKey logs in as DWC does, GET /machine/connect?password=.
func sessionKey(t *testing.T, tw *Twin, password string) string {
	t.Helper()
	resp, body := do(t, "GET", tw.HTTPURL()+"/machine/connect?password="+url.QueryEscape(password), "", nil)
	var v struct{ SessionKey string }
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &v) != nil || v.SessionKey == "" {
		t.Fatalf("connect: %d %q", resp.StatusCode, body)
	}
	return v.SessionKey
}

// Only keys DWS issued name a session, for DWS's own routes and for the
// ids plugins get. With no machine password set, DCS accepts any password
// (CheckPassword.cs), as DWC's login with an empty field relies on.
func TestSessionKeys(t *testing.T) {
	tw := startTwin(t, Options{})
	a, b := sessionKey(t, tw, ""), sessionKey(t, tw, "anything")
	if a == b || tw.sessionID(a) != 1 || tw.sessionID(b) != 2 || tw.sessionID("made-up") != -1 || tw.sessionID("") != -1 {
		t.Fatalf("keys %q %q: ids %d %d", a, b, tw.sessionID(a), tw.sessionID(b))
	}
	u := tw.HTTPURL() + "/machine/file/" + url.PathEscape("0:/sys/x")
	if resp, _ := do(t, "PUT", u, "x", map[string]string{"X-Session-Key": "made-up"}); resp.StatusCode != 401 {
		t.Fatalf("made-up key: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "PUT", u, "x", map[string]string{"X-Session-Key": b}); resp.StatusCode != 201 {
		t.Fatalf("issued key: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "PUT", u, "x", nil); resp.StatusCode != 201 {
		t.Fatalf("no key, no machine password: %d", resp.StatusCode)
	}
}
