package dsf

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// dwsRequest does what DWS does for one HTTP request: connect, send the
// request object, read one response object, close.
func dwsRequest(t *testing.T, socket, request string) map[string]any {
	t.Helper()
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	raw, err := newMessageReader(c).next()
	if err != nil {
		t.Fatal(err)
	}
	var resp map[string]any
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

// staleSocket leaves a socket file at path that nobody listens on, as a
// plugin that crashed does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
}

func TestEndpointAnswersDWSRequests(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "status-GET.sock")
	staleSocket(t, socket) // left by a crashed run
	var got *Request
	e, err := ListenEndpoint(socket, func(_ context.Context, r *Request) Response {
		got = r
		return Response{StatusCode: 200, Type: JSONText, Body: `{"ok":true}`}
	}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if st, err := os.Stat(socket); err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o660 {
		t.Fatalf("socket file: %v %v", st.Mode(), err)
	}
	// DSF 3.5 writes header keys with a lowercased first letter, 3.6 as sent.
	resp := dwsRequest(t, socket, `{"sessionId":3,"queries":{"Verbose":"1"},"headers":{"host":"duet3.local","x-Session-Key":"k"},"contentType":null,"body":""}`)
	want := map[string]any{"statusCode": float64(200), "response": `{"ok":true}`, "responseType": "json"}
	for k, v := range want {
		if resp[k] != v {
			t.Fatalf("response %v, want %v", resp, want)
		}
	}
	if got.SessionID != 3 || got.Header("Host") != "duet3.local" || got.Header("X-SESSION-KEY") != "k" ||
		got.Query("verbose") != "1" || got.ContentType != nil {
		t.Fatalf("request as decoded: %+v", got)
	}
}

func TestEndpointProbeIsQuietAndBadRequestsAnswered(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	socket := filepath.Join(t.TempDir(), "s-GET.sock")
	e, err := ListenEndpoint(socket, func(context.Context, *Request) Response {
		return Response{Type: PlainText, Body: "hi"}
	}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// DCS's liveness probe: connect and close at once.
	c, _ := net.Dial("unix", socket)
	c.Close()
	// A request that is valid JSON of the wrong shape.
	resp := dwsRequest(t, socket, `{"sessionId":"not a number"}`)
	if resp["statusCode"] != float64(400) || !strings.Contains(resp["response"].(string), "bad request") {
		t.Fatalf("bad request answered with %v", resp)
	}
	// Defaults: 200 and plaintext when the handler leaves them out.
	resp = dwsRequest(t, socket, `{"sessionId":-1,"queries":{},"headers":{},"contentType":null,"body":""}`)
	if resp["statusCode"] != float64(200) || resp["responseType"] != "plaintext" || resp["response"] != "hi" {
		t.Fatalf("response %v", resp)
	}
	time.Sleep(50 * time.Millisecond)
	for _, entry := range logs.All() {
		if entry.Level >= zap.InfoLevel && strings.Contains(entry.Message, "without a request") {
			t.Fatalf("the probe was logged at %s: %s", entry.Level, entry.Message)
		}
	}
}

// Close stops the accept loop (no spinning on a closed listener), ends a
// handler that is still waiting, and deletes the socket file.
func TestEndpointCloseEndsEverything(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "slow-GET.sock")
	before := runtime.NumGoroutine()
	entered := make(chan struct{})
	e, err := ListenEndpoint(socket, func(ctx context.Context, r *Request) Response {
		close(entered)
		<-ctx.Done()
		return Response{StatusCode: 503, Type: PlainText, Body: "stopping"}
	}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(`{"sessionId":-1,"queries":{},"headers":{},"contentType":null,"body":""}`))
	<-entered
	done := make(chan error)
	go func() { done <- e.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not return")
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(c)
	if !strings.Contains(string(b), `"statusCode":503`) {
		t.Fatalf("the waiting request got %q", b)
	}
	if _, err := os.Stat(socket); !os.IsNotExist(err) {
		t.Fatalf("socket file still there: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("goroutines %d after Close, %d before", after, before)
	}
}

// ListenEndpoint is listenEndpoint with the session's logging and a gate of
// its own, as a test of one endpoint needs.
func ListenEndpoint(path string, h Handler, log *zap.Logger) (*Endpoint, error) {
	return listenEndpoint(path, h, limitedLog{log, newLimiter()}, newGate())
}
