package app

import (
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"usbstream/internal/dsf/dsftest"
	"usbstream/internal/nettest"
)

// Standalone, a failure of the HTTP server that serves the API ends Run
// with its error, whichever server it is: the first one, or the one a port
// move opened. (sbc then exits 1, and the service starts usbStream again,
// instead of it running on with nothing listening.)
func TestRunEndsWhenTheHTTPServerFails(t *testing.T) {
	for _, tt := range []struct {
		name string
		move bool
	}{{"the first server", false}, {"the server a port move opened", true}} {
		t.Run(tt.name, func(t *testing.T) {
			port, port2 := nettest.FreePort(t), nettest.FreePort(t)
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

// -dsf saved into the file while usbStream runs under DSF applies after a
// restart: until then usbStream is still DSF's plugin, and an HTTP failure
// stays a state, not an exit.
func TestUnderDSFASavedDSFNoneKeepsAFailureAState(t *testing.T) {
	twin := startDSFTwin(t)
	content := strings.Replace(testPattern, "{port}", strconv.Itoa(nettest.FreePort(t)), 1)
	ta := startApp(t, content+"-dsf "+twin.SocketPath()+"\n")
	if err := os.WriteFile(ta.file, []byte(content+"-dsf none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ta.waitFor("the reload", func() bool { return ta.logged("a changed -dsf applies after a restart") })
	ta.mu.Lock()
	first := ta.http
	ta.mu.Unlock()
	first.ln.Close()
	ta.waitFor("the failure in the log", func() bool { return ta.logged("HTTP server failed") })
	if ta.wait(time.Second) {
		t.Fatalf("Run ended (%v); it still runs under DSF", ta.err)
	}
}

// Under DSF the same failure is a state, not an exit (DSF's restart loop
// would only hide it): DWC's console says it, and the address is listened
// on again, as after a start on a busy port.
func TestUnderDSFAFailedHTTPServerListensAgain(t *testing.T) {
	twin := startDSFTwin(t)
	port := nettest.FreePort(t)
	ta := startApp(t, strings.Replace(testPattern, "{port}", strconv.Itoa(port), 1), "-dsf", twin.SocketPath())
	ta.mu.Lock()
	first := ta.http
	ta.mu.Unlock()
	first.ln.Close()
	told := func() bool {
		for _, m := range twin.Messages() {
			if strings.Contains(m.Content, "HTTP server failed") {
				return true
			}
		}
		return false
	}
	ta.waitFor("DWC's console to hear of the failure", told)
	if ta.wait(0) {
		t.Fatalf("Run ended (%v); under DSF it must go on", ta.err)
	}
	// listenLater tries every 5 s.
	deadline := time.Now().Add(8 * time.Second)
	for {
		ta.mu.Lock()
		srv := ta.http
		ta.mu.Unlock()
		if srv != nil && srv != first && ta.get(port, "/status", nil) == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the port was not listened on again")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startDSFTwin runs a DSF twin with usbStream's own manifest installed.
func startDSFTwin(t *testing.T) *dsftest.Twin {
	t.Helper()
	manifest, err := os.ReadFile("../../plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	twin, err := dsftest.Start(dsftest.Options{Dir: t.TempDir(), Manifest: manifest})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { twin.Close() })
	return twin
}
