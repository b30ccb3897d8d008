package e2e

// Connections that ask and never read, against the real binary: they must
// not pile up outside -maxclients, and a viewer must still get in.

import (
	"fmt"
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
	addr := s.addr()
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

// Go keeps freed memory for a while; on a 1 GB Pi the question is whether
// what 500 viewers used comes back without help. Measured here (RELIABILITY.md):
// it does within about 8 s, and debug.FreeOSMemory after the drop changed
// nothing (21.3 against 20.5 MiB 12 s later), so usbStream does not call it.
func TestMemoryIsReturnedAfterViewersLeave(t *testing.T) {
	if testing.Short() {
		t.Skip("500 viewers and 12 s")
	}
	s := start(t, "-source", "test", "-resolution", "1280x720", "-framerate", "10", "-maxclients", "1000")
	addr := s.addr()
	base := getStatus(t, s).Process.RSSBytes
	const viewers = 500
	var conns []net.Conn
	for range viewers {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("after %d viewers: %v", len(conns), err)
		}
		io.WriteString(c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
		go io.Copy(io.Discard, c)
		conns = append(conns, c)
	}
	time.Sleep(3 * time.Second)
	with := getStatus(t, s).Process.RSSBytes
	for _, c := range conns {
		c.Close()
	}
	const mib = 1 << 20
	var trace []string
	var most, after int64
	for range 12 {
		time.Sleep(time.Second)
		after = getStatus(t, s).Process.RSSBytes
		most = max(most, after)
		trace = append(trace, fmt.Sprintf("%.1f", float64(after)/mib))
	}
	t.Logf("RSS %.1f MiB before, %.1f MiB with %d viewers; each second after they left: %s MiB",
		float64(base)/mib, float64(with)/mib, viewers, strings.Join(trace, " "))
	if after > with {
		t.Fatalf("12 s after %d viewers left RSS is %.1f MiB, more than the %.1f MiB with them (most %.1f MiB)",
			viewers, float64(after)/mib, float64(with)/mib, float64(most)/mib)
	}
}
