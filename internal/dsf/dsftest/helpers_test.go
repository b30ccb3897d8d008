package dsftest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// Every wait in these tests is bounded by this.
const wait = 5 * time.Second

const testManifest = `{
  "id": "usbStream", "name": "usbStream", "author": "test", "version": "2.0.0", "license": "GPL-2.0-or-later",
  "sbcRequired": true, "sbcDsfVersion": "3.6", "sbcExecutable": "usbStream",
  "sbcExecutableArguments": "-file /opt/dsf/sd/sys/usbStream/usbStream.config",
  "sbcOutputRedirected": false, "sbcAutoRestart": true,
  "sbcPermissions": ["commandExecution", "objectModelRead", "objectModelReadWrite", "registerHttpEndpoints",
                     "networkAccess", "webcamAccess", "readSystem", "writeSystem"],
  "sbcConfigFiles": ["usbStream/usbStream.config"],
  "data": {"status": null, "other": {"a": 1}},
  "unknownKey": true
}`

// shortDir is a temporary directory with a short path: UNIX socket paths
// must stay under 108 bytes, and t.TempDir() paths carry the test name.
func shortDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "dsft")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func startTwin(t testing.TB, opt Options) *Twin {
	t.Helper()
	if opt.Dir == "" {
		opt.Dir = shortDir(t)
	}
	if opt.Manifest == nil {
		opt.Manifest = []byte(testManifest)
	}
	tw, err := Start(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.Close() })
	return tw
}

// client is a raw IPC connection driven with hand-written JSON.
type client struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

func dial(t testing.TB, path string) *client {
	t.Helper()
	conn, err := net.DialTimeout("unix", path, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, br: bufio.NewReader(conn)}
}

func (c *client) send(s string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("send %s: %v", s, err)
	}
}

// next reads one object the way a client must: by brace counting, since
// nothing delimits messages.
func (c *client) next() (json.RawMessage, error) {
	c.conn.SetReadDeadline(time.Now().Add(wait))
	return readObject(c.br)
}

func (c *client) recv() json.RawMessage {
	c.t.Helper()
	raw, err := c.next()
	if err != nil {
		c.t.Fatalf("recv: %v", err)
	}
	return raw
}

// expectEOF asserts the server closed the connection without sending more.
func (c *client) expectEOF() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(wait))
	b, err := c.br.ReadByte()
	if err == nil {
		rest, _ := c.br.Peek(c.br.Buffered())
		c.t.Fatalf("expected EOF, got %q", append([]byte{b}, rest...))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("expected EOF, connection still open")
	}
}

func (c *client) call(s string) map[string]any {
	c.t.Helper()
	c.send(s)
	return decode(c.t, c.recv())
}

// command opens a Command-mode connection.
func command(t testing.TB, tw *Twin) *client {
	t.Helper()
	c := dial(t, tw.SocketPath())
	c.recv()
	if got := c.call(`{"mode":"Command","version":12}`); !isSuccess(got) {
		t.Fatalf("handshake: %v", got)
	}
	return c
}

func decode(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return m
}

func isSuccess(m map[string]any) bool {
	_, hasResult := m["result"]
	return m["success"] == true && !hasResult && len(m) == 1
}

// wantError asserts an ErrorResponse with exactly these three keys.
func wantError(t testing.TB, m map[string]any, typ, msg string) {
	t.Helper()
	if len(m) != 3 || m["success"] != false || m["errorType"] != typ || (msg != "" && m["errorMessage"] != msg) {
		t.Fatalf("want %s %q, got %v", typ, msg, m)
	}
}

func wantPrefix(t testing.TB, m map[string]any, typ, prefix string) {
	t.Helper()
	s, _ := m["errorMessage"].(string)
	if m["success"] != false || m["errorType"] != typ || !strings.HasPrefix(s, prefix) {
		t.Fatalf("want %s %q..., got %v", typ, prefix, m)
	}
}

func result(t testing.TB, m map[string]any) any {
	t.Helper()
	r, ok := m["result"]
	if m["success"] != true || !ok || len(m) != 2 {
		t.Fatalf("want a result, got %v", m)
	}
	return r
}

// eventually polls cond until it holds or the bound passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var (
	osStat    = os.Stat
	timeAfter = time.After
)

// listenUnix binds an endpoint socket the way a plugin must: delete a stale
// file, then listen.
func listenUnix(t testing.TB, path string) net.Listener {
	t.Helper()
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}
