package main

// Connections that ask and never read, against the real binary: they must
// not pile up outside -maxclients, and a viewer must still get in.

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"usbstream/internal/httpapi"
)

func TestNonReadingConnectionsAreBounded(t *testing.T) {
	s := start(t, "-source", "test", "-framerate", "5", "-maxclients", "5")
	addr := strings.TrimPrefix(s.base, "http://")
	base := getStatus(t, s).Process.OpenFiles
	const n = 400
	limit := httpapi.ConnectionLimit(5)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("after %d connections: %v", len(conns), err)
		}
		conns = append(conns, c)
		// A request answered and never read: the connection stays open,
		// idle, until the server's idle timeout.
		io.WriteString(c, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	time.Sleep(500 * time.Millisecond)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(s.base + "/snapshot")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a snapshot with %d idle connections open: %v %v", n, resp, err)
	}
	resp.Body.Close()
	open := getStatus(t, s).Process.OpenFiles
	t.Logf("%d connections that never read: the server holds %d file descriptors (%d before; limit %d connections)",
		n, open, base, limit)
	if open > base+limit+5 {
		t.Fatalf("the server holds %d file descriptors for %d connections that never read; want at most %d (the connection limit) more than the %d before",
			open, n, limit, base)
	}
}
