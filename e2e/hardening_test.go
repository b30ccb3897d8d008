package e2e

// Hostile and unlucky conditions against the real binary: password
// guessing, path tricks, a full disk under the log file.

import (
	"bufio"
	"fmt"
	"image/color"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A burst of wrong passwords gets 401s with a realm and does not starve a
// logged-in viewer; no password ends up in the log.
func TestFailedLoginBurstDoesNotSlowOthers(t *testing.T) {
	s := start(t, "-source", "test", "-resolution", "320x240", "-framerate", "20",
		"-user", "lapse", "-password", "right-pw")
	authed := strings.Replace(s.base, "http://", "http://lapse:right-pw@", 1)
	w := watch(t, authed+"/stream")
	if _, ok := w.waitFor(time.Now().Add(-time.Hour), 5*time.Second, isCamera); !ok {
		t.Fatal("no frames for the logged-in viewer")
	}
	before, from := statusOf(t, s.base, "lapse", "right-pw").Source.FramesCaptured, time.Now()

	// 20 guessers for 3 s, at most 200000 tries in all.
	var tries, wrong atomic.Int64
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Go(func() {
			client := http.Client{Timeout: 5 * time.Second}
			for i := 0; tries.Add(1) <= 200000 && time.Now().Before(deadline); i++ {
				req, _ := http.NewRequest("GET", s.base+"/snapshot", nil)
				req.SetBasicAuth("lapse", fmt.Sprintf("guess-%d-%d", g, i))
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 401 && strings.Contains(resp.Header.Get("WWW-Authenticate"), `realm="usbStream"`) {
					wrong.Add(1)
				}
			}
		})
	}
	wg.Wait()
	captured := statusOf(t, s.base, "lapse", "right-pw").Source.FramesCaptured - before
	received := uint64(len(w.since(from)))
	t.Logf("%d wrong logins answered 401; viewer got %d of %d frames meanwhile", wrong.Load(), received, captured)
	if wrong.Load() < 500 || captured < 30 {
		t.Fatalf("only %d guesses got a proper 401, %d frames captured meanwhile", wrong.Load(), captured)
	}
	if received+2 < captured*9/10 {
		t.Fatalf("the viewer got %d of %d frames during the burst", received, captured)
	}
	if out := s.output.String(); strings.Contains(out, "guess-") || strings.Contains(out, "right-pw") {
		t.Fatalf("a password appeared in the log:\n%s", out)
	}
}

// No request path reaches the file system: traversal in every spelling is
// refused, and nothing that looks like /etc/passwd comes back.
func TestNoPathReadsFiles(t *testing.T) {
	s := start(t, "-source", "test", "-resolution", "160x120")
	addr := s.addr()
	for _, path := range []string{
		"/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd",
		"//etc/passwd", "/stream/../../etc/passwd", "/snapshot/..%2f..%2fetc/passwd", "/./etc/passwd",
		"/etc/passwd", "/index.html", "/web/index.html", "/?action=../../etc/passwd",
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			conn.Close()
			t.Fatalf("%s: %v", path, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		conn.Close()
		if strings.Contains(string(body), "root:") {
			t.Fatalf("%s returned file content", path)
		}
		if resp.StatusCode == 200 && resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("%s: 200 with %s", path, resp.Header.Get("Content-Type"))
		}
	}
}

// A log file on a full disk (/dev/full) costs one warning on stderr; the
// stream goes on.
func TestLogFileOnFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	s := start(t, "-source", "test", "-resolution", "160x120", "-framerate", "20", "-logfile", "/dev/full", "-verbose")
	w := watch(t, s.base+"/stream")
	time.Sleep(1500 * time.Millisecond)
	if n := len(w.since(time.Now().Add(-time.Second))); n < 10 {
		t.Fatalf("%d frames in the last second with a full disk under the log", n)
	}
	if n := strings.Count(s.output.String(), "cannot write the log file"); n != 1 {
		t.Fatalf("%d warnings about the log file, want exactly 1:\n%s", n, s.output)
	}
}

// A 50 MB "JPEG" in a replayed folder or inside an MJPEG file is skipped
// with a warning; the frames around it stream on and memory stays far below
// the file's size.
func TestHugeJPEGIsSkipped(t *testing.T) {
	const huge = 50 << 20
	folder := t.TempDir()
	small := writeJPEGs(t, folder, 64, 48, color.RGBA{200, 0, 0, 255}, color.RGBA{0, 0, 200, 255})
	// A well-formed JPEG that is huge in its headers: 800 comment segments
	// of 64 KiB after SOI, then a real picture.
	com := append([]byte{0xFF, 0xFE, 0xFF, 0xFF}, make([]byte, 65533)...)
	big := append([]byte{}, small[0][:2]...)
	for len(big) < huge {
		big = append(big, com...)
	}
	big = append(big, small[0][2:]...)

	// writeJPEGs names its files frame0.jpg, frame1.jpg; this one sorts first.
	if err := os.WriteFile(folder+"/0-huge.jpg", big, 0o644); err != nil {
		t.Fatal(err)
	}
	mjpeg := t.TempDir() + "/cam.mjpeg"
	stream := append(append(append([]byte{}, small[0]...), big...), small[1]...)
	if err := os.WriteFile(mjpeg, stream, 0o644); err != nil {
		t.Fatal(err)
	}

	for name, src := range map[string]string{"folder": "file:" + folder, "mjpeg": "file:" + mjpeg} {
		t.Run(name, func(t *testing.T) {
			s := start(t, "-source", src, "-framerate", "20")
			w := watch(t, s.base+"/stream")
			defer w.close()
			time.Sleep(2 * time.Second)
			parts := w.since(time.Time{})
			seen := map[string]bool{}
			for _, p := range parts {
				if len(p.jpeg) > 64<<10 {
					t.Fatalf("a part of %d bytes was streamed", len(p.jpeg))
				}
				seen[string(p.jpeg)] = true
			}
			if !seen[string(small[0])] || !seen[string(small[1])] || len(parts) < 10 {
				t.Fatalf("%d parts, both small frames seen: %v %v", len(parts), seen[string(small[0])], seen[string(small[1])])
			}
			// Holding the frame would take its 50 MiB plus the process's
			// own 10 MiB or more; walking it costs at most the 16 MiB frame
			// limit of buffer, once (later passes seek past it).
			if st := getStatus(t, s); st.Process.RSSBytes > huge+8<<20 {
				t.Fatalf("RSS %d MiB while skipping a %d MiB frame", st.Process.RSSBytes>>20, huge>>20)
			}
			if !strings.Contains(s.output.String(), "over the limit") {
				t.Fatalf("no warning about the oversized frame:\n%s", s.output)
			}
		})
	}
}
