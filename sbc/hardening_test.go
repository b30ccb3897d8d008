package main

// Hostile and unlucky conditions against the real binary: password
// guessing, path tricks, a full disk under the log file.

import (
	"bufio"
	"fmt"
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
	var st statusDoc
	getJSON(t, authed+"/status", &st)
	before, from := st.Source.FramesCaptured, time.Now()

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
	getJSON(t, authed+"/status", &st)
	captured := st.Source.FramesCaptured - before
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
	addr := strings.TrimPrefix(s.base, "http://")
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
