package e2e

// Slowloris and friends against the real binary: 500 connections that
// send half a request and stall, 200 that ask for a stream and never read.
// Meanwhile 20 ordinary viewers must keep the full frame rate and a
// snapshot must come back at once.

import (
	"fmt"
	"image/color"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestSlowlorisDoesNotHurtViewers(t *testing.T) {
	// Replayed files keep the source cheap: this measures the server's
	// fan-out under attack, not the test pattern's encoder.
	dir := t.TempDir()
	writeJPEGs(t, dir, 640, 480, color.RGBA{200, 30, 30, 255}, color.RGBA{30, 200, 30, 255}, color.RGBA{30, 30, 200, 255})
	s := start(t, "-source", "file:"+dir, "-framerate", "30", "-maxclients", "1000")
	addr := s.addr()

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	open := func(request string) {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("after %d connections: %v", len(conns), err)
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(4096) // a reader that never reads should fill up fast
		}
		if _, err := io.WriteString(c, request); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for range 500 {
		open("GET /stream HTTP/1.1\r\nHost: x\r\nUser-Agent: slow") // and nothing more
	}
	for range 200 {
		open("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n") // and never read
	}

	// 20 viewers for 3 s, while the header timeout (5 s) has not yet cut
	// the stalled ones.
	const viewers, window = 20, 3 * time.Second
	before := getStatus(t, s).Source.FramesCaptured
	counts := make([]int, viewers)
	var wg sync.WaitGroup
	for i := range viewers {
		wg.Go(func() { counts[i] = countFrames(t, s.base+"/stream", window) })
	}
	// A snapshot in the middle of it.
	time.Sleep(window / 2)
	began := time.Now()
	resp, err := http.Get(s.base + "/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	snapshot := time.Since(began)
	wg.Wait()
	captured := int(getStatus(t, s).Source.FramesCaptured - before)

	minFPS := float64(slices.Min(counts)) / window.Seconds()
	fmt.Printf("slowloris: 500 stalled + 200 non-reading connections; source %d frames; %d viewers at min %.1f fps (counts %v); snapshot %v\n",
		captured, viewers, minFPS, counts, snapshot.Round(100*time.Microsecond))
	if resp.StatusCode != 200 || snapshot > 50*time.Millisecond {
		t.Errorf("snapshot: status %d after %v, want 200 within 50 ms", resp.StatusCode, snapshot)
	}
	// Every viewer gets every frame the source made meanwhile (the window
	// of the status reads is a little wider than each viewer's).
	if slices.Min(counts) < captured*95/100 {
		t.Errorf("slowest viewer got %d of %d frames", slices.Min(counts), captured)
	}
	// And the full rate, unless this machine was too busy for the source
	// itself to keep 30 fps (then the figure says nothing about usbStream).
	if sourceFPS := float64(captured) / window.Seconds(); sourceFPS >= 29.5 && minFPS < 29 {
		t.Errorf("slowest viewer at %.1f fps with the source at %.1f, want ≥ 29", minFPS, sourceFPS)
	} else if sourceFPS < 29.5 {
		t.Logf("the source made only %.1f fps on this busy machine; the ≥ 29 fps check needs a quiet one", sourceFPS)
	}
}
