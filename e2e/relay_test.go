package e2e

// A relay in front of usbStream for more viewers than the SBC's link
// carries: go2rtc, set up with the configuration README gives, pulls
// /stream once and serves every viewer from that one connection.

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"usbstream/internal/nettest"
)

// needRelay finds go2rtc on PATH or where tools/relay/install.sh puts it,
// skipping (failing in CI) as need does when it is not installed.
func needRelay(t *testing.T) string {
	t.Helper()
	if path, err := exec.LookPath("go2rtc"); err == nil {
		return path
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		path := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "go2rtc")
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	missing(t, "go2rtc", "tools/relay/install.sh")
	return ""
}

// readmeRelayConfig returns the YAML block of README's relay section with
// the printer's and the relay's addresses replaced by test ones.
func readmeRelayConfig(t *testing.T, printer, relay string) string {
	t.Helper()
	_, section, ok := strings.Cut(string(repoFile(t, "README.md")), "\n### Many viewers: a relay in front\n")
	if !ok {
		t.Fatal("README.md has no section \"Many viewers: a relay in front\"")
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindStringSubmatch(section)
	if m == nil {
		t.Fatal("README's relay section has no yaml block")
	}
	config := m[1]
	for _, want := range []string{"http://PRINTER:8085/stream", `":1984"`} {
		if !strings.Contains(config, want) {
			t.Fatalf("README's relay configuration has no %s:\n%s", want, config)
		}
	}
	config = strings.ReplaceAll(config, "PRINTER:8085", printer)
	return strings.ReplaceAll(config, `":1984"`, `"`+relay+`"`)
}

// streamClients are the stream connections usbStream's /status lists.
func streamClients(t *testing.T, s *server) []string {
	t.Helper()
	var out []string
	for _, c := range getStatus(t, s).Clients {
		if c.Kind == "stream" {
			out = append(out, c.Remote+" "+c.Path)
		}
	}
	return out
}

// readParts reads n parts of an MJPEG stream, each of which must be one of
// the JPEGs in frames, byte for byte.
func readParts(url string, n int, frames map[string]bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	mediaType, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 200 || err != nil || mediaType != "multipart/x-mixed-replace" {
		return fmt.Errorf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for i := 0; i < n; i++ {
		part, err := mr.NextPart()
		if err != nil {
			return fmt.Errorf("part %d: %v", i, err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			return fmt.Errorf("part %d: %v", i, err)
		}
		if _, err := jpeg.Decode(bytes.NewReader(body)); err != nil {
			return fmt.Errorf("part %d: %v", i, err)
		}
		if !frames[string(body)] {
			return fmt.Errorf("part %d (%d bytes) is not one of the camera's JPEGs: the relay changed it", i, len(body))
		}
	}
	return nil
}

func TestRelayServesManyViewersFromOneStream(t *testing.T) {
	relayBin := needRelay(t)
	// Behind the relay usbStream sees one address; 2 per address is what
	// README recommends there, and must be enough for all the viewers.
	// A replayed folder is the camera: its JPEGs are known byte for byte.
	dir := t.TempDir()
	frames := map[string]bool{}
	for _, b := range writeJPEGs(t, dir, 320, 240, color.RGBA{200, 40, 40, 255}, color.RGBA{40, 200, 40, 255}, color.RGBA{40, 40, 200, 255}) {
		frames[string(b)] = true
	}
	s := start(t, "-source", "file:"+dir, "-framerate", "10", "-maxclientsperip", "2")
	relayAddr := fmt.Sprintf("127.0.0.1:%d", nettest.FreePort(t))
	dir = t.TempDir()
	config := readmeRelayConfig(t, s.addr(), relayAddr)
	if err := os.WriteFile(filepath.Join(dir, "go2rtc.yaml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	relay := exec.Command(relayBin, "-c", filepath.Join(dir, "go2rtc.yaml"))
	relay.Dir = dir
	out := &syncBuffer{}
	relay.Stdout, relay.Stderr = out, out
	if err := relay.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- relay.Wait() }()
	t.Cleanup(func() {
		relay.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			relay.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("go2rtc configuration:\n%s\ngo2rtc output:\n%s", config, out)
		}
	})
	base := "http://" + relayAddr
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/api")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("go2rtc exited at start: %v\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("go2rtc did not answer within 10 s\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c := streamClients(t, s); len(c) != 0 {
		t.Fatalf("before any viewer usbStream already has stream clients %v", c)
	}

	// The viewers: each reads 30 parts (3 s at 10 fps) while the others do.
	const viewers = 10
	var wg sync.WaitGroup
	errs := make(chan error, viewers)
	for i := 0; i < viewers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := readParts(base+"/api/stream.mjpeg?src=printer", 30, frames); err != nil {
				errs <- err
			}
		}()
	}
	// While they watch: one stream from the relay, however many viewers;
	// never more, whenever it is looked at (the relay may take a while to
	// connect on a busy machine).
	var during []string
	eventually(t, 10*time.Second, "the relay's stream at usbStream", func() bool {
		during = streamClients(t, s)
		return len(during) > 0
	})
	for range 5 {
		if now := streamClients(t, s); len(now) > len(during) {
			during = now
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A snapshot through the relay meanwhile is a JPEG from the same
	// connection.
	resp, err := http.Get(base + "/api/frame.jpeg?src=printer")
	if err != nil {
		t.Fatal(err)
	}
	snap, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("relay snapshot: %d %s", resp.StatusCode, snap)
	}
	decodeJPEG(t, snap)
	afterSnap := streamClients(t, s)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a viewer of the relay: %v", err)
	}
	t.Logf("usbStream's stream clients with %d viewers at the relay: %v; after a relay snapshot: %v", viewers, during, afterSnap)
	if len(during) != 1 || !strings.HasPrefix(during[0], "127.0.0.1:") || !strings.HasSuffix(during[0], " /stream") {
		t.Fatalf("with %d viewers at the relay usbStream has stream clients %v, want the relay's one /stream", viewers, during)
	}
	if len(afterSnap) != 1 {
		t.Fatalf("after a snapshot through the relay usbStream has stream clients %v, want the relay's one", afterSnap)
	}

	// A lone viewer who leaves and another who comes at once: the relay
	// may open a new stream before usbStream has seen the old one close (it
	// finds out at its next write), which is why README gives the relay 2
	// per address (with 1, curl viewers coming and going like this got
	// empty answers and go2rtc logged usbStream's 503).
	for i := 0; i < 6; i++ {
		if err := readParts(base+"/api/stream.mjpeg?src=printer", 3, frames); err != nil {
			t.Fatalf("viewer %d of one at a time: %v", i, err)
		}
	}

	// When the last viewer has gone the relay lets go of the stream, so an
	// unwatched camera idles as it does without a relay.
	deadline = time.Now().Add(10 * time.Second)
	for len(streamClients(t, s)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("10 s after its viewers left the relay still holds %v", streamClients(t, s))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
