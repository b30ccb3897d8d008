package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"

	"usbstream/internal/frame"
	"usbstream/internal/status"
	"usbstream/internal/stream"
)

var jpegBody = []byte("\xff\xd8test-frame\xff\xd9")

type fixture struct {
	api *Server
	hub *stream.Hub
	srv *httptest.Server
}

func newFixture(t *testing.T, opt Options) *fixture {
	t.Helper()
	f := newAPI(opt)
	f.srv = httptest.NewServer(f.api)
	t.Cleanup(f.srv.Close)
	return f
}

// newAPI is a fixture without a server.
func newAPI(opt Options) *fixture {
	hub := stream.NewHub()
	clients := stream.NewRegistry()
	opt.Version = "test"
	statusFn := func() status.Status {
		return status.Status{Version: "test", Clients: clients.List(time.Now())}
	}
	placeholder := func(reason string) *frame.Frame {
		return &frame.Frame{JPEG: []byte("\xff\xd8placeholder:" + reason + "\xff\xd9"), Captured: time.Now(), Placeholder: true}
	}
	api := New(hub, clients, statusFn, placeholder, opt, zap.NewNop())
	return &fixture{hub: hub, api: api}
}

func (f *fixture) publish(body []byte, captured time.Time) {
	f.hub.Publish(&frame.Frame{JPEG: body, Captured: captured, Width: 4, Height: 3})
}

func (f *fixture) get(t *testing.T, method, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	return do(t, http.DefaultClient, method, f.srv.URL+path, hdr...)
}

// do sends a request with c and returns the answer with its whole body.
func do(t *testing.T, c *http.Client, method, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestClassify(t *testing.T) {
	cases := map[string]route{
		"/":                                  routeViewer,
		"/index.html":                        routeViewer,
		"/_0.5":                              routeViewer,
		"/index.html_0.3":                    routeViewer,
		"/?dummy=0.123":                      routeViewer,
		"/stream":                            routeStream,
		"/stream?dummy=0.3":                  routeStream,
		"/stream_0.42":                       routeStream,
		"/stream.mjpg":                       routeStream,
		"/?action=stream":                    routeStream,
		"/?action=stream_0":                  routeStream,
		"/?action=stream&dummy=1":            routeStream,
		"/?action=stream_0.7":                routeStream,
		"/snapshot":                          routeSnapshot,
		"/snapshot.jpg":                      routeSnapshot,
		"/snapshot.jpg_0.5":                  routeSnapshot,
		"/snapshot_0.1":                      routeSnapshot,
		"/?action=snapshot":                  routeSnapshot,
		"/?action=snapshot_1":                routeSnapshot,
		"/?action=snapshot_0.123&dummy=0.55": routeSnapshot,
		"/status":                            routeStatus,
		"/status.json":                       routeStatus,
		"/cameras?dummy=2":                   routeCameras,
		"/favicon.ico":                       routeFavicon,
		"/streams":                           routeNotFound,
		"/terminate":                         routeNotFound,
		"/?action=terminate":                 routeNotFound,
		"/snapshotx":                         routeNotFound,
		"/etc/passwd":                        routeNotFound,
	}
	checkClassify(t, cases)
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{"/", "/stream_0.1", "/?action=snapshot_2", "/status.json", "/%zz?x=%", "//stream", "/?action="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		r := classify(u.Path, u.Query())
		if r < routeNotFound || r > routeFavicon {
			t.Fatalf("classify(%q) = %d: not a route", raw, r)
		}
		// Cache-busting parameters never change the route.
		q := u.Query()
		q.Set("dummy", "0.5")
		if again := classify(u.Path, q); again != r {
			t.Fatalf("adding dummy= changed the route of %q from %d to %d", raw, r, again)
		}
	})
}

func TestSnapshotReturnsLatestFrameAtOnce(t *testing.T) {
	f := newFixture(t, Options{SnapshotWait: time.Minute})
	captured := time.Now()
	f.publish(jpegBody, captured)
	wantTS := string(stream.AppendTimestamp(nil, &frame.Frame{Captured: captured}))
	for _, path := range []string{"/snapshot", "/snapshot.jpg?dummy=0.1", "/?action=snapshot_0.3", "/snapshot_0.77"} {
		resp, body := f.get(t, "GET", path)
		if resp.StatusCode != 200 || body != string(jpegBody) {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, body)
		}
		if resp.Header.Get("Content-Type") != "image/jpeg" || resp.ContentLength != int64(len(jpegBody)) {
			t.Fatalf("%s: headers %v", path, resp.Header)
		}
		if resp.Header.Get("X-Timestamp") != wantTS {
			t.Fatalf("%s: X-Timestamp %q", path, resp.Header.Get("X-Timestamp"))
		}
		if !strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
			t.Fatalf("%s: no no-cache headers: %v", path, resp.Header)
		}
	}
}

// max_delay reaches the snapshot policy (stream.Hub.Snapshot, where its
// meaning is tested), with DWC's useFix suffix too; a malformed one is 400.
func TestSnapshotMaxDelayParameter(t *testing.T) {
	f := newFixture(t, Options{SnapshotWait: 150 * time.Millisecond})
	f.publish([]byte("\xff\xd8ten seconds old\xff\xd9"), time.Now().Add(-10*time.Second))
	// DWC's useFix appends "_<random>" to the last parameter.
	for _, path := range []string{"/snapshot?max_delay=60000", "/snapshot?max_delay=60000_0.31"} {
		if resp, body := f.get(t, "GET", path); resp.StatusCode != 200 || !strings.Contains(body, "ten seconds old") {
			t.Fatalf("%s got %d %q, want the frame already there", path, resp.StatusCode, body)
		}
	}
	if resp, body := f.get(t, "GET", "/snapshot?max_delay=1000"); resp.StatusCode != 503 || !strings.HasPrefix(body, "\xff\xd8placeholder:") {
		t.Fatalf("max_delay=1000 got %d %q, want 503 with the placeholder", resp.StatusCode, body)
	}
	for _, bad := range []string{"-1", "abc", "99999999999"} {
		if resp, _ := f.get(t, "GET", "/snapshot?max_delay="+bad); resp.StatusCode != 400 {
			t.Fatalf("max_delay=%s: status %d, want 400", bad, resp.StatusCode)
		}
	}
}

// A placeholder is answered 503 with the picture and X-Placeholder, so a
// timelapse tool can tell it from a camera frame: the one the server renders
// when no fresh frame came in time, and the one the hub holds while the
// source is down.
func TestSnapshotTimesOutWithPlaceholder503(t *testing.T) {
	f := newFixture(t, Options{SnapshotWait: 150 * time.Millisecond})
	f.publish(jpegBody, time.Now().Add(-time.Minute))
	check := func(path, want string) {
		t.Helper()
		resp, body := f.get(t, "GET", path)
		if resp.StatusCode != 503 || !strings.HasPrefix(body, want) || resp.Header.Get("X-Placeholder") != "1" ||
			resp.Header.Get("Content-Type") != "image/jpeg" || resp.ContentLength != int64(len(body)) {
			t.Fatalf("%s: %d %v %q, want 503 with %q and X-Placeholder", path, resp.StatusCode, resp.Header, body, want)
		}
	}
	check("/snapshot?max_delay=0", "\xff\xd8placeholder:no fresh frame within 150ms")
	f.hub.Publish(&frame.Frame{JPEG: []byte("\xff\xd8offline\xff\xd9"), Captured: time.Now(), Placeholder: true})
	check("/snapshot", "\xff\xd8offline")
}

func TestStreamHeadersAndFirstPartAtOnce(t *testing.T) {
	f := newFixture(t, Options{AllowOrigin: "*"})
	f.publish(jpegBody, time.Unix(1700000000, 0))
	conn, err := net.Dial("tcp", f.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET /stream?dummy=0.3 HTTP/1.1\r\nHost: x\r\n\r\n")
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "multipart/x-mixed-replace;boundary=boundarydonotcross" {
		t.Fatalf("stream response: %d %v", resp.StatusCode, resp.Header)
	}
	if len(resp.TransferEncoding) != 0 {
		t.Fatalf("stream uses transfer encoding %v; parts must be sent raw", resp.TransferEncoding)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("X-Frame-Options") != "" {
		t.Fatalf("stream headers %v", resp.Header)
	}
	want := "--boundarydonotcross\r\nContent-Type: image/jpeg\r\nContent-Length: 14\r\nX-Timestamp: 1700000000.000000\r\n\r\n" +
		string(jpegBody) + "\r\n--boundarydonotcross\r\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(resp.Body, got); err != nil || string(got) != want {
		t.Fatalf("first part %q (%v), want %q", got, err, want)
	}
}

func TestStreamRejectsBadFPS(t *testing.T) {
	f := newFixture(t, Options{})
	for _, v := range []string{"0", "-2", "abc", "NaN"} {
		if resp, body := f.get(t, "GET", "/stream?fps="+v); resp.StatusCode != 400 || !strings.Contains(body, "fps") {
			t.Fatalf("fps=%s: %d %q, want 400 naming fps", v, resp.StatusCode, body)
		}
	}
}

func TestHeadOnEveryRoute(t *testing.T) {
	f := newFixture(t, Options{})
	f.publish(jpegBody, time.Now())
	for path, ctype := range map[string]string{
		"/": "text/html; charset=utf-8", "/stream": stream.ContentType, "/snapshot": "image/jpeg",
		"/status": "application/json", "/?action=stream": stream.ContentType,
	} {
		resp, body := f.get(t, "HEAD", path)
		if resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Type") != ctype {
			t.Fatalf("HEAD %s: %d %q %v", path, resp.StatusCode, body, resp.Header)
		}
	}
}

func TestUnknownPathAndMethod(t *testing.T) {
	f := newFixture(t, Options{})
	resp, body := f.get(t, "GET", "/terminate")
	if resp.StatusCode != 404 || !strings.Contains(body, "not found") {
		t.Fatalf("GET /terminate: %d %q", resp.StatusCode, body)
	}
	resp, _ = f.get(t, "POST", "/stream")
	if resp.StatusCode != 405 || resp.Header.Get("Allow") == "" {
		t.Fatalf("POST: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestViewerPageIsFrameable(t *testing.T) {
	f := newFixture(t, Options{})
	resp, body := f.get(t, "GET", "/?dummy=0.9")
	if resp.StatusCode != 200 || !strings.Contains(body, `src="stream"`) {
		t.Fatalf("viewer: %d", resp.StatusCode)
	}
	for _, h := range []string{"X-Frame-Options", "Content-Security-Policy"} {
		if resp.Header.Get(h) != "" {
			t.Fatalf("viewer sends %s, which breaks httpViewer's iframe", h)
		}
	}
	for _, link := range []string{`href="stream"`, `href="snapshot"`, `href="status"`} {
		if !strings.Contains(body, link) {
			t.Fatalf("viewer lacks link %s", link)
		}
	}
}

func TestStatusJSON(t *testing.T) {
	f := newFixture(t, Options{})
	resp, body := f.get(t, "GET", "/status?dummy=1")
	var st status.Status
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &st) != nil || st.Version != "test" {
		t.Fatalf("status: %d %q", resp.StatusCode, body)
	}
}

func TestBasicAuth(t *testing.T) {
	f := newFixture(t, Options{User: "printer", Password: "s3cr:t"})
	f.publish(jpegBody, time.Now())
	resp, _ := f.get(t, "GET", "/snapshot")
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `realm="usbStream"`) {
		t.Fatalf("no credentials: %d %v", resp.StatusCode, resp.Header)
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/snapshot", nil)
	req.SetBasicAuth("printer", "wrong")
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	// Credentials in the URL, as DuetLapse3 passes them.
	u, _ := url.Parse(f.srv.URL + "/snapshot")
	u.User = url.UserPassword("printer", "s3cr:t")
	resp, err := http.Get(u.String())
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("URL credentials: %v %v", resp, err)
	}
	resp.Body.Close()
	// Preflights carry no credentials and must not be refused.
	if resp, _ := f.get(t, "OPTIONS", "/stream"); resp.StatusCode != 204 {
		t.Fatalf("OPTIONS: %d", resp.StatusCode)
	}
}

// New credentials end what was admitted without them: a stream opened
// while the port was open, and a snapshot waiting for a frame, end, and
// asking again needs the password. The same credentials with another
// origin keep them.
func TestNewCredentialsEndOpenStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, n := newMemFixture(t, Options{})
		f.publish(jpegBody, time.Now())
		open := func(path string) *bufio.Reader {
			t.Helper()
			conn := n.open(t, "127.0.0.1")
			io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
			return bufio.NewReader(conn)
		}
		stream := open("/stream")
		if resp, err := http.ReadResponse(stream, nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("stream: %v %v", resp, err)
		}
		if _, err := stream.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // the frame is older than what the snapshot asks for
		waiting := open("/snapshot?max_delay=0")
		synctest.Wait()
		if n := len(f.api.clients.List(time.Now())); n != 2 {
			t.Fatalf("%d clients, want the stream and the waiting snapshot", n)
		}

		f.api.SetAccess(Access{AllowOrigin: "*"}) // only the origin: nothing ends
		time.Sleep(100 * time.Millisecond)
		if n := len(f.api.clients.List(time.Now())); n != 2 {
			t.Fatalf("%d clients after an origin change, want 2", n)
		}
		f.api.SetAccess(Access{User: "printer", Password: "pw", AllowOrigin: "*"})
		if _, err := io.Copy(io.Discard, stream); err != nil {
			t.Fatalf("the stream did not end cleanly: %v", err)
		}
		if resp, err := http.ReadResponse(waiting, nil); err == nil && resp.StatusCode == 200 {
			t.Fatal("the waiting snapshot was answered with a picture after the password was set")
		}
		if resp, _ := do(t, n.client("127.0.0.1"), "GET", memURL+"/stream"); resp.StatusCode != 401 {
			t.Fatalf("a new stream without the password: %d", resp.StatusCode)
		}
		synctest.Wait()
		if n := len(f.api.clients.List(time.Now())); n != 0 {
			t.Fatalf("%d clients left after the password was set, want none", n)
		}
	})
}

func TestCORSPreflight(t *testing.T) {
	f := newFixture(t, Options{AllowOrigin: "http://duet.local"})
	resp, _ := f.get(t, "OPTIONS", "/snapshot", "Origin", "http://duet.local", "Access-Control-Request-Method", "GET")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "http://duet.local" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}

// Cancelling the server context ends streams promptly, even for a client
// that stopped reading.
func TestStreamsEndOnShutdown(t *testing.T) {
	hub := stream.NewHub()
	hub.Publish(&frame.Frame{JPEG: make([]byte, 4<<20), Captured: time.Now()})
	api := New(hub, stream.NewRegistry(), func() status.Status { return status.Status{} }, nil, Options{}, zap.NewNop())
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewUnstartedServer(api)
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Start()
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(100 * time.Millisecond) // the 4 MiB frame fills the socket buffers
	cancel()
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Fatalf("stream did not end within 2 s of shutdown: %v", err)
	}
}

// A snapshot still waiting at shutdown is cut off, not answered "200 OK"
// with an empty body that a timelapse tool would save as an image.
func TestSnapshotWaitingAtShutdownIsAborted(t *testing.T) {
	hub := stream.NewHub()
	api := New(hub, stream.NewRegistry(), func() status.Status { return status.Status{} }, nil, Options{}, zap.NewNop())
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewUnstartedServer(api)
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	defer srv.Close()
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	resp, err := http.Get(srv.URL + "/snapshot?max_delay=0")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("snapshot at shutdown answered %d with %d bytes, want the connection cut", resp.StatusCode, len(body))
	}
}

// Past the client limit new streams and snapshots get 503 with a reason;
// clients already connected keep streaming, and a freed slot is usable.
func TestClientLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, n := newMemFixture(t, Options{MaxClients: 2})
		c := n.client("127.0.0.1")
		f.publish([]byte("\xff\xd8one\xff\xd9"), time.Now())
		var streams []*http.Response
		for range 2 {
			resp, err := c.Get(memURL + "/stream")
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("stream within the limit: %v %v", resp, err)
			}
			streams = append(streams, resp)
		}
		for _, path := range []string{"/stream", "/snapshot"} {
			resp, body := do(t, c, "GET", memURL+path)
			if resp.StatusCode != 503 || !strings.Contains(body, "too many clients") || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("%s over the limit: %d %q", path, resp.StatusCode, body)
			}
		}
		if resp, _ := do(t, c, "GET", memURL+"/status"); resp.StatusCode != 200 {
			t.Fatalf("/status must stay reachable when full: %d", resp.StatusCode)
		}
		streams[0].Body.Close()
		synctest.Wait() // the stream's write fails: it ends and frees its slot
		if resp, _ := do(t, c, "GET", memURL+"/snapshot"); resp.StatusCode != 200 {
			t.Fatalf("a freed slot was not reused: %d", resp.StatusCode)
		}
		streams[1].Body.Close()
	})
}

func TestClientLimitPerAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, n := newMemFixture(t, Options{MaxClients: 10, MaxClientsPerIP: 2})
		f.publish([]byte("\xff\xd8one\xff\xd9"), time.Now())
		one, two := n.client("127.0.0.1"), n.client("127.0.0.2")
		open := func(c *http.Client, path string) (*http.Response, string) {
			t.Helper()
			resp, err := c.Get(memURL + path)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode == 200 && path == "/stream" {
				return resp, ""
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp, string(b)
		}
		var mine []*http.Response
		for range 2 {
			resp, body := open(one, "/stream")
			if resp.StatusCode != 200 {
				t.Fatalf("stream within the per-address limit: %d %q", resp.StatusCode, body)
			}
			mine = append(mine, resp)
		}
		for _, path := range []string{"/stream", "/snapshot"} {
			resp, body := open(one, path)
			if resp.StatusCode != 503 || !strings.Contains(body, "from your address") ||
				!strings.Contains(body, "-maxclientsperip") || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("%s over the per-address limit: %d %q", path, resp.StatusCode, body)
			}
		}
		resp, body := open(two, "/stream")
		if resp.StatusCode != 200 {
			t.Fatalf("another address must still be served: %d %q", resp.StatusCode, body)
		}
		resp.Body.Close()

		mine[0].Body.Close()
		synctest.Wait() // the stream's write fails: it ends and frees its slot
		if resp, _ := open(one, "/snapshot"); resp.StatusCode != 200 {
			t.Fatalf("a slot freed by the same address was not reused: %d", resp.StatusCode)
		}

		// A reload that lifts the limit applies to the next request.
		f.api.SetMaxClientsPerIP(0)
		resp, body = open(one, "/stream")
		if resp.StatusCode != 200 {
			t.Fatalf("after lifting the per-address limit: %d %q", resp.StatusCode, body)
		}
		resp.Body.Close()
		mine[1].Body.Close()
	})
}

func TestLongURLRefused(t *testing.T) {
	f := newFixture(t, Options{})
	resp, body := f.get(t, "GET", "/stream?dummy="+strings.Repeat("x", MaxURLLength))
	if resp.StatusCode != http.StatusRequestURITooLong || !strings.Contains(body, "URL too long") {
		t.Fatalf("long URL: %d %q", resp.StatusCode, body)
	}
}

// checkClassify checks the route of each raw URL.
func checkClassify(t *testing.T, cases map[string]route) {
	t.Helper()
	for raw, want := range cases {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := classify(u.Path, u.Query()); got != want {
			t.Errorf("classify(%q) = %d, want %d", raw, got, want)
		}
	}
}

// Listing the cameras may take longer than the answer's deadline (seconds
// of ioctls in an emulated VM, a slow USB device): the deadline bounds
// sending the answer, so a slow listing still gets its answer, not a cut
// connection.
func TestSlowCameraListStillAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 200 * time.Millisecond
		_, n := newMemFixture(t, Options{ResponseTimeout: timeout, Cameras: func() (any, error) {
			time.Sleep(2 * timeout)
			return []string{"cam"}, nil
		}})
		resp, body := do(t, n.client("127.0.0.1"), "GET", memURL+"/cameras")
		if resp.StatusCode != 200 || !strings.Contains(body, "cam") {
			t.Fatalf("/cameras after a listing slower than the deadline: %d %q", resp.StatusCode, body)
		}
	})
}
