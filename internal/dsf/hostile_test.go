package dsf

// What a broken or hostile peer on an endpoint socket can do: DWS forwards
// whatever a browser on the network sends, and any member of group dsf can
// connect. Real UNIX sockets throughout.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// rawRequest sends head, then size bytes of 'a', then tail, without
// holding them in memory, and returns the response object DWS would read
// (nil if the endpoint closed without one).
func rawRequest(socket, head string, size int, tail string) (map[string]any, error) {
	c, err := net.Dial("unix", socket)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	// Written from another goroutine, as DWS may still be writing when the
	// answer comes.
	wrote := make(chan error, 1)
	go func() {
		chunk := []byte(strings.Repeat("a", 64<<10))
		_, err := io.WriteString(c, head)
		for left := size; err == nil && left > 0; left -= len(chunk) {
			_, err = c.Write(chunk[:min(left, len(chunk))])
		}
		if err == nil {
			_, err = io.WriteString(c, tail)
		}
		wrote <- err
	}()
	raw, err := newMessageReader(c).next()
	if err != nil {
		return nil, fmt.Errorf("no response (%w)", err)
	}
	if err := <-wrote; err != nil {
		return nil, fmt.Errorf("the request could not be written, so DWS would answer 500 (%w)", err)
	}
	var resp map[string]any
	return resp, json.Unmarshal(raw, &resp)
}

const requestHead = `{"sessionId":-1,"queries":{},"headers":{},"contentType":null,"body":"`

// A request over the per-request cap is answered 413 with the reason, not
// read into memory and passed on.
func TestEndpointRefusesAnOversizedRequest(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "s-GET.sock")
	var called atomic.Int32
	e, err := ListenEndpoint(socket, func(context.Context, *Request) Response {
		called.Add(1)
		return Response{Type: PlainText, Body: "ok"}
	}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	resp, err := rawRequest(socket, requestHead, 2<<20, `"}`)
	if err != nil {
		t.Fatal(err)
	}
	if resp["statusCode"] != float64(413) || !strings.Contains(fmt.Sprint(resp["response"]), "too large") {
		t.Fatalf("a 2 MiB request was answered %v", resp)
	}
	if called.Load() != 0 {
		t.Fatal("the handler got the oversized request")
	}
	// The endpoint still answers ordinary requests.
	if resp := dwsRequest(t, socket, requestHead+`"}`); resp["statusCode"] != float64(200) {
		t.Fatalf("after the oversized request: %v", resp)
	}
}

// heldEndpoint listens on a fresh endpoint socket whose handler holds
// every request until release is closed, counting those that entered it.
func heldEndpoint(t *testing.T) (socket string, release chan struct{}, entered *atomic.Int32) {
	t.Helper()
	socket = filepath.Join(t.TempDir(), "s-GET.sock")
	release, entered = make(chan struct{}), &atomic.Int32{}
	e, err := ListenEndpoint(socket, func(ctx context.Context, _ *Request) Response {
		entered.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return Response{Type: PlainText, Body: "ok"}
	}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return socket, release, entered
}

// While the handler is busy with as many requests as are allowed at once,
// more are answered 503 at once instead of queueing without bound.
func TestEndpointCapsRequestsAtOnce(t *testing.T) {
	socket, release, entered := heldEndpoint(t)
	const n = 40
	results := make(chan map[string]any, n)
	for range n {
		go func() {
			resp, err := rawRequest(socket, requestHead, 0, `"}`)
			if err != nil {
				resp = map[string]any{"error": err.Error()}
			}
			results <- resp
		}()
	}
	var busy []map[string]any
	timeout := time.After(3 * time.Second)
	for len(busy) < n && entered.Load()+int32(len(busy)) < n {
		select {
		case r := <-results:
			busy = append(busy, r)
		case <-time.After(10 * time.Millisecond): // entered may have grown
		case <-timeout:
			close(release)
			t.Fatalf("after 3 s %d requests are in the handler and %d answered: nothing refused the excess", entered.Load(), len(busy))
		}
	}
	in := int(entered.Load())
	close(release)
	for _, r := range busy {
		if r["statusCode"] != float64(503) || !strings.Contains(fmt.Sprint(r["response"]), "busy") {
			t.Fatalf("a request beyond the %d in the handler got %v", in, r)
		}
	}
	for range in {
		if r := <-results; r["statusCode"] != float64(200) {
			t.Fatalf("a request the handler took got %v", r)
		}
	}
	t.Logf("%d requests handled at once, %d refused with 503", in, len(busy))
}

// Requests that are each within the cap but together more than the
// endpoints may buffer: the excess is refused with 503, the rest served.
func TestEndpointBoundsTheBytesBufferedAtOnce(t *testing.T) {
	socket, release, _ := heldEndpoint(t)
	const n, size = 10, 900 << 10
	results := make(chan map[string]any, n)
	for range n {
		go func() {
			resp, err := rawRequest(socket, requestHead, size, `"}`)
			if err != nil {
				resp = map[string]any{"error": err.Error()}
			}
			results <- resp
		}()
	}
	// The refused ones are answered while the served ones wait in the
	// handler: collect answers until none has come for half a second.
	var got []map[string]any
	for len(got) < n {
		select {
		case r := <-results:
			if r["statusCode"] != float64(503) || !strings.Contains(fmt.Sprint(r["response"]), "busy") {
				close(release)
				t.Fatalf("while the handler holds requests, one got %.300v", r)
			}
			got = append(got, r)
			continue
		case <-time.After(time.Second):
		}
		break
	}
	refused := len(got)
	close(release)
	// What is still to come was taken by the handler (200), or refused
	// late: under the race detector on a busy machine a refusal can take
	// longer than the quiet second above.
	for range n - len(got) {
		switch r := <-results; {
		case r["statusCode"] == float64(200):
		case r["statusCode"] == float64(503) && strings.Contains(fmt.Sprint(r["response"]), "busy"):
			refused++
		default:
			t.Fatalf("a request got %.300v", r)
		}
	}
	if refused == 0 || refused == n {
		t.Fatalf("%d requests of %d KiB at once: %d refused; want some served and some refused", n, size>>10, refused)
	}
	t.Logf("%d requests of %d KiB at once: %d served, %d refused with 503", n, size>>10, n-refused, refused)
}

// Garbage on an endpoint socket gets a short 400, and a burst of it a few
// short warnings, not a line (of any size) per connection.
func TestEndpointGarbageIsAnsweredAndLoggedBriefly(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	socket := filepath.Join(t.TempDir(), "s-GET.sock")
	e, err := ListenEndpoint(socket, func(context.Context, *Request) Response {
		return Response{Type: PlainText, Body: "ok"}
	}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	huge := strings.Repeat("9", 200<<10)
	garbage := []string{
		`{"sessionId":` + huge + `}`,                             // json quotes the number it cannot store
		`{"headers":{"` + strings.Repeat("k", 100<<10) + `":1}}`, // and the keys leading to it
		`{"sessionId":"x","body":"` + strings.Repeat("b", 100<<10) + `"}`,
		`{]}`, `{"queries":[1,2,3]}`,
	}
	// Eight at a time: within the cap on requests at once, so that each
	// is answered.
	const n, workers = 200, 8
	var wg sync.WaitGroup
	var bad atomic.Value
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				resp, err := rawRequest(socket, garbage[i%len(garbage)], 0, "")
				if err != nil {
					bad.Store(err.Error())
					return
				}
				if resp["statusCode"] != float64(400) || len(fmt.Sprint(resp["response"])) > 1000 {
					bad.Store(fmt.Sprintf("garbage answered with %d bytes: %.300v", len(fmt.Sprint(resp["response"])), resp))
				}
			}
		})
	}
	wg.Wait()
	if b := bad.Load(); b != nil {
		t.Fatal(b)
	}
	var lines, longest int
	for _, entry := range logs.All() {
		if entry.Level < zap.InfoLevel {
			continue
		}
		lines++
		longest = max(longest, entrySize(entry))
	}
	t.Logf("%d garbage requests: %d lines at info or above, the longest %d bytes", n, lines, longest)
	if lines > 12 || longest > 2000 {
		t.Fatalf("%d garbage requests logged %d lines at info or above, the longest %d bytes; want at most 12, under 2000 bytes",
			n, lines, longest)
	}
}

// entrySize is about what the console encoder writes for an entry.
func entrySize(e observer.LoggedEntry) int {
	n := len(e.Message)
	for k, v := range e.ContextMap() {
		n += len(k) + len(fmt.Sprint(v))
	}
	return n
}

// Only a stale socket (a socket file nobody listens on) is replaced:
// whatever else is at the path stays as it was and the endpoint is
// refused with the reason.
func TestListenEndpointLeavesWhatIsNotAStaleSocket(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other")
	os.WriteFile(other, []byte("keep"), 0o644)
	live := filepath.Join(dir, "live-GET.sock")
	ln, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, c := range []struct {
		name, want string
		make       func(path string)
		check      func(path string) error
	}{
		{"regular file", "regular file", func(p string) { os.WriteFile(p, []byte("precious"), 0o644) },
			func(p string) error { return expectContent(p, "precious") }},
		{"empty folder", "folder", func(p string) { os.Mkdir(p, 0o755) },
			func(p string) error { return expectDir(p) }},
		{"folder with a file", "folder", func(p string) { os.Mkdir(p, 0o755); os.WriteFile(p+"/x", []byte("x"), 0o644) },
			func(p string) error { return expectContent(p+"/x", "x") }},
		{"symbolic link", "symbolic link", func(p string) { os.Symlink(other, p) },
			func(p string) error { return expectContent(p, "keep") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+"-GET.sock")
			c.make(path)
			e, err := ListenEndpoint(path, nil, zap.NewNop())
			if err == nil {
				e.Close()
				t.Fatalf("listened on a path that held a %s", c.name)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not say the path is a %s", err, c.want)
			}
			if err := c.check(path); err != nil {
				t.Fatalf("the %s was changed: %v", c.name, err)
			}
		})
	}
	t.Run("live socket", func(t *testing.T) {
		if e, err := ListenEndpoint(live, nil, zap.NewNop()); err == nil {
			e.Close()
			t.Fatal("took over a socket another process listens on")
		} else if !strings.Contains(err.Error(), "listening") {
			t.Fatalf("error %q does not say another process listens", err)
		}
		c, err := net.Dial("unix", live)
		if err != nil {
			t.Fatalf("the other process's socket is gone: %v", err)
		}
		c.Close()
	})
	t.Run("stale socket", func(t *testing.T) {
		path := filepath.Join(dir, "stale-GET.sock")
		staleSocket(t, path)
		e, err := ListenEndpoint(path, func(context.Context, *Request) Response { return Response{Body: "ok"} }, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if resp := dwsRequest(t, path, requestHead+`"}`); resp["response"] != "ok" {
			t.Fatalf("%v", resp)
		}
	})
}

func expectContent(path, want string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if string(b) != want {
		return fmt.Errorf("holds %q, want %q", b, want)
	}
	return nil
}

func expectDir(path string) error {
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%v is no longer a folder", st.Mode())
	}
	return nil
}
