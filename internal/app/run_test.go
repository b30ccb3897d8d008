package app

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A failure of the HTTP server that serves the API ends Run with its
// error, whichever server it is: the first one, or the one a port move
// opened. (sbc then exits 1, and the service starts usbStream again,
// instead of it running on with nothing listening.)
func TestRunEndsWhenTheHTTPServerFails(t *testing.T) {
	for _, tt := range []struct {
		name string
		move bool
	}{{"the first server", false}, {"the server a port move opened", true}} {
		t.Run(tt.name, func(t *testing.T) {
			port, port2 := freePort(t), freePort(t)
			content := strings.Replace(testPattern, "{port}", strconv.Itoa(port), 1)
			ta := startApp(t, content)
			if tt.move {
				ta.Reload(ta.ctx, []byte(strings.Replace(content, strconv.Itoa(port), strconv.Itoa(port2), 1)))
				if ta.port() != port2 {
					t.Fatalf("the port did not move: %d", ta.port())
				}
			}
			ta.mu.Lock()
			ln := ta.http.ln
			ta.mu.Unlock()
			// Serve's accept fails when its listener closes without a
			// shutdown asking for it.
			ln.Close()
			ta.waitFor("the log to report the failure", func() bool { return ta.logged("HTTP server failed") })
			if !ta.wait(5 * time.Second) {
				t.Fatal("Run goes on after the HTTP server failed")
			}
			if !errors.Is(ta.err, net.ErrClosed) {
				t.Fatalf("Run returned %v, want the server's error", ta.err)
			}
		})
	}
}
