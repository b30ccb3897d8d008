package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"usbstream/internal/frame"
	"usbstream/internal/status"
	"usbstream/internal/stream"
)

// limitedServer serves api the way the app does: through its Listener,
// with its ConnState, on loopback.
func limitedServer(t *testing.T, api *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: api, ConnState: api.ConnState, ReadHeaderTimeout: time.Minute, IdleTimeout: time.Minute}
	go srv.Serve(api.Listener(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func held(api *Server) int {
	api.conns.mu.Lock()
	defer api.conns.mu.Unlock()
	return api.conns.held
}

func waitHeld(t *testing.T, api *Server, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for held(api) != want {
		if time.Now().After(deadline) {
			t.Fatalf("the server holds %d connections, want %d", held(api), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestQueryValuesOutOfRangeAreRefused(t *testing.T) {
	f := newFixture(t, Options{})
	f.publish(jpegBody, time.Now())
	for _, q := range []string{
		"/snapshot?max_delay=18446744073710", // wrapped to 0.45 ms as a Duration
		"/snapshot?max_delay=9223372036854775807",
		"/snapshot?max_delay=3600001",
		"/stream?fps=1e-300", // accepted, and its interval overflowed
		"/stream?fps=0.001",
		"/stream?fps=1e309",
		"/stream?fps=Inf",
	} {
		name := q[strings.Index(q, "?")+1 : strings.Index(q, "=")]
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(f.srv.URL + q)
		if err != nil {
			t.Errorf("%s: %v, want 400 at once", q, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if body := string(b); resp.StatusCode != 400 || !strings.Contains(body, name) {
			t.Errorf("%s: %d %q, want 400 with the reason", q, resp.StatusCode, strings.TrimSpace(body))
		}
	}
	if resp, _ := f.get(t, "GET", "/snapshot?max_delay=3600000"); resp.StatusCode != 200 {
		t.Errorf("max_delay at its bound: %d, want 200", resp.StatusCode)
	}
}

func TestTransferEncodingWithContentLengthClosesTheConnection(t *testing.T) {
	f := newFixture(t, Options{})
	c, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	// A smuggling probe: both framings on one request, then a second
	// request behind it on the same connection.
	io.WriteString(c, "GET /status HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"0\r\n\r\nGET /cameras HTTP/1.1\r\nHost: x\r\n\r\n")
	all, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("the connection was not closed after the answer: %v (read %d bytes)", err, len(all))
	}
	if n := bytes.Count(all, []byte("HTTP/1.1 ")); n != 1 {
		t.Fatalf("%d answers on a connection whose first request had Content-Length and Transfer-Encoding, want 1:\n%s", n, all)
	}
}

func TestResponsesHaveAWriteDeadline(t *testing.T) {
	// A status document larger than the socket buffers (4 MiB at most on
	// loopback here), asked for by a
	// client that never reads: its connection must not be held.
	big := strings.Repeat("x", 12<<20)
	hub, clients := stream.NewHub(), stream.NewRegistry()
	api := New(hub, clients, func() status.Status { return status.Status{Version: big} },
		func(string) *frame.Frame { return nil }, Options{ResponseTimeout: 300 * time.Millisecond}, zap.NewNop())
	addr := limitedServer(t, api)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	io.WriteString(c, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n") // and never read
	waitHeld(t, api, 1)
	waitHeld(t, api, 0) // within 10 s, not never
}

func TestConnectionLimit(t *testing.T) {
	hub, clients := stream.NewHub(), stream.NewRegistry()
	api := New(hub, clients, func() status.Status { return status.Status{} },
		func(string) *frame.Frame { return nil }, Options{MaxClients: 1}, zap.NewNop())
	addr := limitedServer(t, api)
	limit := ConnectionLimit(1)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		return c
	}
	// Connections that start a request and stall: none of them is idle.
	for range limit {
		io.WriteString(dial(), "GET /status HTTP/1.1\r\n")
	}
	waitHeld(t, api, limit)
	c := dial()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(c)
	if !bytes.HasPrefix(got, []byte("HTTP/1.1 503 ")) || !bytes.Contains(got, []byte("too many connections")) {
		t.Fatalf("connection %d of a limit of %d got %q, want 503 too many connections", limit+1, limit, got)
	}

	// An idle keep-alive connection makes room for a new one.
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	waitHeld(t, api, 0)
	keep := &http.Client{Transport: &http.Transport{}}
	defer keep.CloseIdleConnections()
	resp, err := keep.Get("http://" + addr + "/status")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close() // and the connection stays open, idle
	for range limit - 1 {
		io.WriteString(dial(), "GET /status HTTP/1.1\r\n")
	}
	waitHeld(t, api, limit)
	fresh := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err = fresh.Get("http://" + addr + "/status")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("at the limit with an idle connection, a new request got %v %v; want the idle one closed to make room", resp, err)
	}
	resp.Body.Close()
}

func TestAllowedHosts(t *testing.T) {
	f := newFixture(t, Options{AllowedHosts: []string{"Printer.local", "camera.example."}})
	for host, want := range map[string]int{
		"printer.local": 200, "PRINTER.LOCAL:8081": 200, "camera.example": 200,
		"127.0.0.1:8081": 200, "192.168.1.20": 200, "[::1]:8081": 200, "[fe80::1%25eth0]:8081": 200, "localhost": 200,
		"attacker.example": 421, "printer.local.attacker.example": 421,
	} {
		req, _ := http.NewRequest("GET", f.srv.URL+"/status", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d, want %d", host, resp.StatusCode, want)
		}
	}
	f.api.SetAllowedHosts(nil)
	req, _ := http.NewRequest("GET", f.srv.URL+"/status", nil)
	req.Host = "attacker.example"
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("with no list every name is allowed: %v %v", resp, err)
	}
}

// emfileListener fails every Accept as a process out of descriptors does.
type emfileListener struct{ net.Listener }

func (emfileListener) Accept() (net.Conn, error) {
	return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
}

func TestOutOfFileDescriptorsIsAWarningNotAFlood(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	api := New(stream.NewHub(), stream.NewRegistry(), func() status.Status { return status.Status{} },
		func(string) *frame.Frame { return nil }, Options{}, zap.New(core))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l := api.Listener(emfileListener{ln})
	for range 1000 { // net/http retries every few milliseconds
		if _, err := l.Accept(); !errors.Is(err, syscall.EMFILE) {
			t.Fatalf("Accept = %v, want EMFILE passed on for net/http to retry", err)
		}
	}
	warnings := logs.FilterMessageSnippet("out of file descriptors").All()
	if len(warnings) != 1 {
		t.Fatalf("%d warnings for 1000 EMFILE errors in a row, want 1 (then one every %s)", len(warnings), acceptWarnEvery)
	}
}

func TestMisdirectedAnswersKeepTheRules(t *testing.T) {
	// A 421 is an answer like any other: its connection closes after a
	// Transfer-Encoding request.
	f := newFixture(t, Options{AllowedHosts: []string{"printer.local"}})
	c, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /status HTTP/1.1\r\nHost: attacker.example\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+
		"GET /status HTTP/1.1\r\nHost: printer.local\r\n\r\n")
	all, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("the connection was not closed after the 421: %v", err)
	}
	if !bytes.HasPrefix(all, []byte("HTTP/1.1 421 ")) || bytes.Count(all, []byte("HTTP/1.1 ")) != 1 {
		t.Fatalf("want one 421 answer, got:\n%s", all)
	}
}
