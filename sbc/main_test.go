package main

// End-to-end tests: they build the real usbStream binary, start it on a
// loopback port and drive it with real clients (Go's HTTP client, raw TCP
// sockets, ffmpeg and wget), as users and DuetLapse3 do.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var binary string

func TestMain(m *testing.M) {
	// In the V4L2 VM there is no Go toolchain: tools/vmtest/camera.sh
	// builds the binary on the host and names it here.
	if prebuilt := os.Getenv("USBSTREAM_BINARY"); prebuilt != "" {
		binary = prebuilt
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "usbstream-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "usbStream")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building usbStream:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running usbStream process.
type server struct {
	cmd    *exec.Cmd
	base   string
	output *syncBuffer
	exited chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs usbStream on a free loopback port and waits until /status
// answers. It is stopped with SIGTERM when the test ends, and must then exit
// with status 0.
func start(t *testing.T, args ...string) *server {
	t.Helper()
	port := freePort(t)
	args = append([]string{"-host", "127.0.0.1", "-port", strconv.Itoa(port)}, args...)
	return launch(t, exec.Command(binary, args...), port)
}

// launch starts cmd, a usbStream that serves on 127.0.0.1:port, as start
// does.
func launch(t *testing.T, cmd *exec.Cmd, port int) *server {
	t.Helper()
	s := &server{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), output: &syncBuffer{}, exited: make(chan error, 1)}
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	t.Cleanup(func() { s.stop(t) })
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(s.base + "/status")
		if err == nil {
			resp.Body.Close()
			return s
		}
		select {
		case err := <-s.exited:
			t.Fatalf("usbStream exited at start: %v\n%s", err, s.output)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("usbStream did not answer within 10 s\n%s", s.output)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// port is the port the server was started on.
func (s *server) port() int {
	_, p, _ := net.SplitHostPort(strings.TrimPrefix(s.base, "http://"))
	n, _ := strconv.Atoi(p)
	return n
}

func (s *server) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		if err != nil {
			t.Errorf("usbStream exited with %v after SIGTERM\n%s", err, s.output)
		}
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		t.Errorf("usbStream did not exit within 5 s of SIGTERM\n%s", s.output)
	}
}

// need skips a test whose external tool is missing, except in CI, where
// .ci/run installs it and its absence is a failure.
func need(t *testing.T, tool string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (CI installs it in .ci/run)", tool)
		}
		t.Skipf("%s is not installed: apt-get install %s", tool, tool)
	}
	return path
}

// placeholderSnapshot fetches /snapshot, which must be a 503 with a
// placeholder JPEG; what names the case in the failure.
func placeholderSnapshot(t *testing.T, s *server, what string) image.Image {
	t.Helper()
	resp, err := http.Get(s.base + "/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("%s: %d, want 503 with the placeholder", what, resp.StatusCode)
	}
	return decodeJPEG(t, body)
}

func decodeJPEG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a complete JPEG (%d bytes): %v", len(b), err)
	}
	return img
}

// Every part of the stream is a complete JPEG of the configured size with
// increasing X-Timestamps, as parsed by Go's own multipart reader.
func TestStreamPartsAreCompleteJPEGs(t *testing.T) {
	s := start(t, "-source", "test", "-resolution", "320x240", "-framerate", "25")
	resp, err := http.Get(s.base + "/stream?dummy=0.3")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mediaType, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/x-mixed-replace" {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var last float64
	for i := 0; i < 30; i++ {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if cl, _ := strconv.Atoi(part.Header.Get("Content-Length")); cl != len(body) {
			t.Fatalf("part %d: Content-Length %d, body %d bytes", i, cl, len(body))
		}
		img := decodeJPEG(t, body)
		if b := img.Bounds(); b.Dx() != 320 || b.Dy() != 240 {
			t.Fatalf("part %d is %v, want 320x240", i, b)
		}
		ts, err := strconv.ParseFloat(part.Header.Get("X-Timestamp"), 64)
		if err != nil || ts < last || time.Since(time.Unix(int64(ts), 0)) > time.Minute {
			t.Fatalf("part %d: X-Timestamp %q after %f", i, part.Header.Get("X-Timestamp"), last)
		}
		last = ts
	}
}

// countFrames reads a stream over a raw socket for d and counts parts.
func countFrames(t *testing.T, url string, d time.Duration) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer resp.Body.Close()
	_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	mr := multipart.NewReader(resp.Body, params["boundary"])
	n := 0
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		part, err := mr.NextPart()
		if err != nil {
			t.Error(err)
			return n
		}
		io.Copy(io.Discard, part)
		n++
	}
	return n
}

// A client that reads slowly must not slow down a fast one: the fast client
// gets every frame the server captured meanwhile. Replayed files keep the
// producer cheap, so the test measures fan-out, not the encoder.
func TestSlowClientDoesNotSlowFastClient(t *testing.T) {
	dir := t.TempDir()
	writeNoiseJPEGs(t, dir, 640, 480, 2) // ~200 KB each: far more than socket buffers hold
	s := start(t, "-source", "file:"+dir, "-framerate", "20")
	// Slow client: a small receive buffer, read at 100 KB/s, far below the
	// stream's ~4 MB/s, so the server must skip frames for it.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /stream?slow HTTP/1.1\r\nHost: x\r\n\r\n")
	stopSlow := make(chan struct{})
	defer close(stopSlow)
	go func() {
		buf := make([]byte, 10<<10)
		for {
			select {
			case <-stopSlow:
				return
			case <-time.After(100 * time.Millisecond):
				io.ReadFull(conn, buf)
			}
		}
	}()
	time.Sleep(time.Second) // let the slow client's socket buffers fill
	before := getStatus(t, s).Source.FramesCaptured
	n := countFrames(t, s.base+"/stream", 3*time.Second)
	st := getStatus(t, s)
	captured := st.Source.FramesCaptured - before
	if captured < 30 {
		t.Fatalf("the server captured only %d frames in 3 s at 20 fps", captured)
	}
	if float64(n) < 0.9*float64(captured)-2 {
		t.Fatalf("fast client got %d frames next to a slow client while the server captured %d", n, captured)
	}
	// The slow client really was slow: it got far fewer frames (the kernel's
	// socket buffers hold a few, then its writes block or it is dropped).
	for _, c := range st.Clients {
		if c.Path == "/stream?slow" && c.Frames > st.Source.FramesCaptured/2 {
			t.Fatalf("the slow client got %d of %d frames: the test did not make it slow", c.Frames, st.Source.FramesCaptured)
		}
	}
}

// writeNoiseJPEGs writes n JPEGs of random pixels, which compress badly:
// large frames for tests that must fill socket buffers.
func writeNoiseJPEGs(t *testing.T, dir string, w, h, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for p := range img.Pix {
			img.Pix[p] = byte(rng.Uint32())
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("noise%d.jpg", i)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writeJPEGs writes one solid-colour JPEG per colour into dir and returns
// their bytes.
func writeJPEGs(t *testing.T, dir string, w, h int, colors ...color.RGBA) [][]byte {
	t.Helper()
	var out [][]byte
	for i, c := range colors {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for p := 0; p < len(img.Pix); p += 4 {
			img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = c.R, c.G, c.B, 255
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 70}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("frame%d.jpg", i)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Bytes())
	}
	return out
}

func TestPerClientFPSCap(t *testing.T) {
	s := start(t, "-source", "test", "-resolution", "320x240", "-framerate", "20")
	n := countFrames(t, s.base+"/stream?fps=4", 3*time.Second)
	if n < 10 || n > 15 {
		t.Fatalf("fps=4 client got %d frames in 3 s, want about 12", n)
	}
}

// DuetLapse3's stream mode: ffmpeg grabs one frame per image, with no
// timeout of its own. (That the first part is sent at once is checked in
// internal/httpapi; here the bound only catches a hang, since ffmpeg's own
// start-up is slow on a loaded machine.)
func TestFFmpegGrabsOneFrame(t *testing.T) {
	ffmpeg := need(t, "ffmpeg")
	s := start(t, "-source", "test", "-resolution", "640x480", "-framerate", "15")
	out := filepath.Join(t.TempDir(), "out.jpg")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, "-y", "-loglevel", "error", "-i", s.base+"/stream", "-frames:v", "1", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	b, _ := os.ReadFile(out)
	if img := decodeJPEG(t, b); img.Bounds().Dx() != 640 {
		t.Fatalf("ffmpeg image is %v", img.Bounds())
	}
}

// DuetLapse3's web mode: wget --auth-no-challenge on a still URL, here with
// credentials in the URL as DuetLapse3 passes them.
func TestWgetSnapshotWithAuth(t *testing.T) {
	wget := need(t, "wget")
	s := start(t, "-source", "test", "-resolution", "320x240", "-user", "lapse", "-password", "p#ss word")
	out := filepath.Join(t.TempDir(), "snap.jpg")
	url := strings.Replace(s.base, "http://", "http://lapse:p%23ss%20word@", 1) + "/snapshot"
	if b, err := exec.Command(wget, "-q", "--auth-no-challenge", "-T", "10", "-O", out, url).CombinedOutput(); err != nil {
		t.Fatalf("wget: %v\n%s", err, b)
	}
	b, _ := os.ReadFile(out)
	decodeJPEG(t, b)
	// Without credentials: refused.
	if err := exec.Command(wget, "-q", "-O", out, s.base+"/snapshot").Run(); err == nil {
		t.Fatal("wget without credentials succeeded")
	}
}

// Every URL form DWC, mjpg-streamer clients and browsers use, with GET and HEAD.
func TestURLForms(t *testing.T) {
	s := start(t, "-source", "test", "-resolution", "320x240")
	for path, ctype := range map[string]string{
		"/snapshot?dummy=0.123":  "image/jpeg",
		"/snapshot.jpg":          "image/jpeg",
		"/snapshot_0.554":        "image/jpeg",
		"/?action=snapshot":      "image/jpeg",
		"/?action=snapshot_0.99": "image/jpeg",
		"/?action=snapshot_0":    "image/jpeg",
		"/status?dummy=1":        "application/json",
		"/?dummy=0.5":            "text/html; charset=utf-8",
	} {
		for _, method := range []string{"GET", "HEAD"} {
			req, _ := http.NewRequest(method, s.base+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctype {
				t.Fatalf("%s %s: %d %q", method, path, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if method == "HEAD" && len(body) != 0 {
				t.Fatalf("HEAD %s returned a body", path)
			}
			if method == "GET" && ctype == "image/jpeg" {
				decodeJPEG(t, body)
			}
		}
	}
	for _, path := range []string{"/stream_0.42", "/?action=stream_0", "/stream?dummy=3", "/stream.mjpg"} {
		resp, err := http.Get(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		ctype := resp.Header.Get("Content-Type")
		resp.Body.Close()
		if !strings.HasPrefix(ctype, "multipart/x-mixed-replace") {
			t.Fatalf("%s: Content-Type %q", path, ctype)
		}
	}
	resp, err := http.Get(s.base + "/terminate")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("/terminate: %d, want 404 (there is no way to stop usbStream over HTTP)", resp.StatusCode)
	}
}

// Replayed files are passed through byte for byte, never re-encoded.
func TestFileSourcePassesJPEGsThrough(t *testing.T) {
	dir := t.TempDir()
	files := map[string]bool{}
	for _, b := range writeJPEGs(t, dir, 160, 120, color.RGBA{255, 0, 0, 255}, color.RGBA{0, 255, 0, 255}, color.RGBA{0, 0, 255, 255}) {
		files[string(b)] = true
	}
	s := start(t, "-source", "file:"+dir, "-framerate", "10")
	for i := 0; i < 5; i++ {
		resp, err := http.Get(s.base + "/snapshot?max_delay=0")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !files[string(body)] {
			t.Fatalf("snapshot %d: status %d, %d bytes that are not one of the files", i, resp.StatusCode, len(body))
		}
	}
}

type statusDoc struct {
	Source struct {
		Kind, State, Error, Device string
		Name, Format               string
		Notes                      []string
		Requested                  *struct {
			Format        string
			Width, Height int
			FPS           float64
		}
		Width, Height  int
		TargetFPS      float64                    `json:"targetFps"`
		MeasuredFPS    float64                    `json:"measuredFps"`
		FramesCaptured uint64                     `json:"framesCaptured"`
		SizeChanges    uint64                     `json:"sizeChanges"`
		LastSizeChange *struct{ From, To string } `json:"lastSizeChange"`
	} `json:"source"`
	Clients []struct {
		Path   string
		Kind   string
		Frames uint64
	} `json:"clients"`
	Process struct {
		Goroutines, OpenFiles int
		RSSBytes              int64
	}
}

func getStatus(t *testing.T, s *server) statusDoc {
	t.Helper()
	resp, err := http.Get(s.base + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st statusDoc
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// A missing source is a state, not an exit: placeholders are served, the
// snapshot says 503, and /status tells why.
func TestMissingSourceServesPlaceholder(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "not-there")
	s := start(t, "-source", "file:"+missing)
	deadline := time.Now().Add(5 * time.Second)
	var resp *http.Response
	var body []byte
	for time.Now().Before(deadline) {
		r, err := http.Get(s.base + "/snapshot")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
		resp = r
		if r.StatusCode == 503 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp.StatusCode != 503 {
		t.Fatalf("snapshot of a missing source: %d", resp.StatusCode)
	}
	decodeJPEG(t, body)
	st := getStatus(t, s)
	if st.Source.State != "lost" || !strings.Contains(st.Source.Error, "not-there") {
		t.Fatalf("status of a missing source: %+v", st.Source)
	}
	// The folder appears later: the source is picked up without a restart.
	os.Mkdir(missing, 0o755)
	var b bytes.Buffer
	jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 64, 48)), nil)
	os.WriteFile(filepath.Join(missing, "a.jpg"), b.Bytes(), 0o644)
	deadline = time.Now().Add(5 * time.Second)
	for getStatus(t, s).Source.State != "streaming" {
		if time.Now().After(deadline) {
			t.Fatalf("source not picked up after it appeared: %+v", getStatus(t, s).Source)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestStatusDescribesSourceAndClients(t *testing.T) {
	s := start(t, "-source", "test", "-resolution", "320x240", "-framerate", "20")
	resp, err := http.Get(s.base + "/stream?fps=2")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	time.Sleep(1500 * time.Millisecond)
	st := getStatus(t, s)
	if st.Source.Kind != "test" || st.Source.State != "streaming" || st.Source.Width != 320 || st.Source.TargetFPS != 20 {
		t.Fatalf("source status %+v", st.Source)
	}
	if st.Source.MeasuredFPS < 15 || st.Source.FramesCaptured < 20 {
		t.Fatalf("measured %v fps, %d frames", st.Source.MeasuredFPS, st.Source.FramesCaptured)
	}
	found := false
	for _, c := range st.Clients {
		found = found || (c.Kind == "stream" && c.Path == "/stream?fps=2")
	}
	if !found {
		t.Fatalf("stream client not listed: %+v", st.Clients)
	}
}

// openPTY returns a pseudo-terminal pair, so that a test can run the binary
// the way a person at a shell does.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, tty
}

// At a terminal a broken config file is an error and exit status 2, as a
// person running it by hand expects.
func TestBadConfigAtATerminalExitsWithFileAndLine(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "usbStream.config")
	os.WriteFile(cfg, []byte("-# test\n-port 8090\n-rotate 45\n"), 0o644)
	master, tty := openPTY(t)
	cmd := exec.Command(binary, "-file", cfg, "-dsf", "none")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() { defer close(copied); out.ReadFrom(master) }() // ends with EIO once the process is gone
	err := cmd.Wait()
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
		t.Fatal("the terminal's output did not end")
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want status 2\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), cfg+":3:") || !strings.Contains(out.String(), "-rotate") {
		t.Fatalf("message does not name the file, line 3 and the option:\n%s", out.String())
	}
}

// Without a terminal (systemd, DSF, nohup) a broken config file does not
// end the process, which its service would only restart into the same
// error: it serves the error on the default settings and applies the
// first good save.
func TestBadConfigWithoutATerminalServesTheError(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "usbStream.config")
	other := freePort(t)
	os.WriteFile(cfg, []byte(fmt.Sprintf("-port %d\n-source test\n-user lapse\n-password pw\n-rotate 45\n", other)), 0o644)
	s := start(t, "-dsf", "none", "-file", cfg)
	st := getConfigStatus(t, s.base)
	if st.Config.OK || !strings.Contains(st.Config.Error, cfg+":5: -rotate 45") {
		t.Fatalf("config status %+v", st.Config)
	}
	// The defaults (and the command line), not the half of the file before
	// the error: the command line's port, not the file's, and no test pattern.
	if st.HTTP.Port != s.port() {
		t.Fatalf("serving on port %d, want the command line's %d", st.HTTP.Port, s.port())
	}
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", other)); err == nil {
		c.Close()
		t.Fatalf("listening on the broken file's port %d", other)
	}
	resp, err := http.Get(s.base + "/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("X-Placeholder") != "1" {
		t.Fatalf("snapshot %d %v", resp.StatusCode, resp.Header)
	}
	decodeJPEG(t, body)
	if out := s.output.String(); !strings.Contains(out, "ERROR") || !strings.Contains(out, cfg+":5:") {
		t.Fatalf("the error is not logged:\n%s", out)
	}
	// Another broken save: the picture and the status name its error now.
	saveLikeDWC(t, cfg, "-source test\n-rotate 46\n")
	eventually(t, 10*time.Second, "the second error in the source's state", func() bool {
		st := getStatus(t, s)
		return strings.Contains(st.Source.Error, "usbStream.config:2: -rotate 46") && strings.Contains(st.Source.Error, "built-in defaults")
	})
	// Meanwhile the port has no auth (the file's is not known); a viewer
	// who came in then is cut off when the fixed file brings the password
	// back, and has to give it, as everyone.
	w := watch(t, s.base+"/stream")
	saveLikeDWC(t, cfg, "-source test\n-resolution 320x240\n-user lapse\n-password pw\n")
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream opened without the password still runs after the password was set")
	}
	if resp, err := http.Get(s.base + "/snapshot"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("snapshot without the password after the fix: %v %v", resp, err)
	}
	// The credentials apply before the new source has its first frame.
	eventually(t, 10*time.Second, "a 320x240 picture with the password", func() bool {
		req, _ := http.NewRequest(http.MethodGet, s.base+"/snapshot", nil)
		req.SetBasicAuth("lapse", "pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200 && decodeJPEG(t, body).Bounds().Dx() == 320
	})
}

// saveAndExpectTestPattern saves a good config file the way DWC does and
// waits until it is applied and streaming.
func saveAndExpectTestPattern(t *testing.T, s *server, cfg string) {
	t.Helper()
	saveLikeDWC(t, cfg, "-source test\n-resolution 320x240\n")
	waitConfig(t, s.base, "the good file", func(d configDoc) bool { return d.Config.OK })
	w := watch(t, s.base+"/stream")
	if sz := latestSize(t, w, time.Now()); sz != image.Pt(320, 240) {
		t.Fatalf("after the good save: %v", sz)
	}
}

// A config file that is not there (deleted in DWC) is the same case: the
// service runs on the defaults, says so, and applies the file once it exists.
func TestMissingConfigWithoutATerminalWaitsForTheFile(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "usbStream.config")
	s := start(t, "-dsf", "none", "-file", cfg)
	if st := getConfigStatus(t, s.base); st.Config.OK || !strings.Contains(st.Config.Error, "no such file") {
		t.Fatalf("config status %+v", st.Config)
	}
	saveAndExpectTestPattern(t, s, cfg)
}

// A config file usbStream may not read (a root-owned 0600 file under a
// service user) is mended by a chmod alone; a missing file by an empty one.
func TestUnreadableConfigIsMendedByChmod(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run usbStream as another user (CI runs as root)")
	}
	dir, err := os.MkdirTemp("", "usbstream-cfg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755) // the service user may look in, not read the file
	os.Chmod(filepath.Dir(binary), 0o755)
	cfg := filepath.Join(dir, "usbStream.config")
	os.WriteFile(cfg, []byte("-source test\n-resolution 320x240\n"), 0o600)
	port := freePort(t)
	cmd := exec.Command(binary, "-host", "127.0.0.1", "-port", strconv.Itoa(port), "-dsf", "none", "-file", cfg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	s := launch(t, cmd, port)
	if st := getConfigStatus(t, s.base); st.Config.OK || !strings.Contains(st.Config.Error, "permission denied") {
		t.Fatalf("config status %+v", st.Config)
	}
	// The watcher has looked at the file and failed too, so only the chmod
	// can make it look again.
	eventually(t, 10*time.Second, "the watcher's failed read", func() bool {
		return strings.Contains(s.output.String(), "cannot read the changed config file")
	})
	if err := os.Chmod(cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	waitConfig(t, s.base, "the file readable after chmod", func(d configDoc) bool { return d.Config.OK })
	w := watch(t, s.base+"/stream")
	if sz := latestSize(t, w, time.Now()); sz != image.Pt(320, 240) {
		t.Fatalf("after the chmod: %v", sz)
	}

	missing := filepath.Join(t.TempDir(), "usbStream.config")
	s = start(t, "-dsf", "none", "-file", missing)
	if err := os.WriteFile(missing, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitConfig(t, s.base, "an empty file, which is the defaults", func(d configDoc) bool { return d.Config.OK })
}

// A mistake on the command line cannot be mended by a save: it is an
// error and status 2 with or without a terminal (the systemd unit does not
// restart on 2).
func TestBadCommandLineExitsWithoutATerminal(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "usbStream.config")
	os.WriteFile(cfg, []byte("-source test\n"), 0o644)
	cmd := exec.Command(binary, "-file", cfg, "-rotate", "45")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "command line: -rotate 45") {
		t.Fatalf("exit %v, want status 2 naming the command line\n%s", err, out)
	}
	// With the file broken as well, the command line's mistake is named
	// first: it is why the process ends.
	os.WriteFile(cfg, []byte("-source bogus\n"), 0o644)
	out, err = exec.Command(binary, "-file", cfg, "-nosuchoption").CombinedOutput()
	first, _, _ := strings.Cut(string(out), "\n")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(first, "command line: -nosuchoption") ||
		!strings.Contains(string(out), cfg+":1:") {
		t.Fatalf("exit %v, want status 2 naming the command line first, then the file\n%s", err, out)
	}
}

func TestPortInUseExitsWithStatus1(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	out, err := exec.Command(binary, "-source", "test", "-host", "127.0.0.1", "-port", port).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1\n%s", err, out)
	}
	if !strings.Contains(string(out), port) || !strings.Contains(string(out), "in use") {
		t.Fatalf("message does not say the port is in use:\n%s", out)
	}
}

// SIGTERM with a client connected: the stream ends and the process exits 0
// within a second.
func TestSIGTERMEndsStreamsAndExits(t *testing.T) {
	s := start(t, "-source", "test", "-resolution", "320x240")
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
	r := bufio.NewReader(conn)
	if _, err := textproto.NewReader(r).ReadLine(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, s.output)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("no exit within 3 s of SIGTERM")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("exit took %v after SIGTERM, want < 1 s", took)
	}
	conn.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatalf("stream not closed at exit: %v", err)
	}
}

// A client that sends half a request and stalls (slowloris) is cut off by the
// header timeout, while a stream that has been running longer keeps going.
func TestStalledRequestIsClosedButStreamsLive(t *testing.T) {
	t.Parallel()
	s := start(t, "-source", "test", "-resolution", "160x120", "-framerate", "10")
	stream, err := http.Get(s.base + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	_, params, _ := mime.ParseMediaType(stream.Header.Get("Content-Type"))
	parts := multipart.NewReader(stream.Body, params["boundary"])

	stalled, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	io.WriteString(stalled, "GET /stream HTTP/1.1\r\nHost: x\r\n") // no blank line: never finishes
	opened := time.Now()
	stalled.SetReadDeadline(opened.Add(15 * time.Second))
	if _, err := io.Copy(io.Discard, stalled); err != nil {
		t.Fatalf("stalled request not closed by the server: %v", err)
	}
	if waited := time.Since(opened); waited < 4*time.Second {
		t.Fatalf("stalled request closed after %v, before the 5 s header timeout", waited)
	}
	// The stream opened before the stall still delivers frames captured
	// after the header timeout (not just parts buffered before it).
	for {
		part, err := parts.NextPart()
		if err != nil {
			t.Fatalf("stream broken after the header timeout: %v", err)
		}
		io.Copy(io.Discard, part)
		ts, _ := strconv.ParseFloat(part.Header.Get("X-Timestamp"), 64)
		if time.Unix(0, int64(ts*1e9)).After(opened.Add(5 * time.Second)) {
			break
		}
	}
}

// The default source is the camera. With none attached (as on this machine
// unless the VM tests run) the server runs, serves the placeholder, and
// says it is waiting for the camera.
func TestNoCameraIsWaitingNotFailing(t *testing.T) {
	if devs, _ := filepath.Glob("/dev/video*"); len(devs) > 0 {
		t.Skip("this machine has video devices")
	}
	s := start(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := getStatus(t, s)
		if st.Source.State == "lost" && strings.HasPrefix(st.Source.Error, "waiting for camera") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v, want lost / waiting for camera", st.Source)
		}
		time.Sleep(50 * time.Millisecond)
	}
	placeholderSnapshot(t, s, "snapshot without a camera")
	if out := s.output.String(); strings.Contains(out, "WARN") {
		t.Fatalf("waiting for a camera logged a warning:\n%s", out)
	}
	if got := mustGetJSON(t, s.base+"/cameras"); got != "[]" {
		t.Fatalf("/cameras = %s, want []", got)
	}
	out, err := exec.Command(binary, "-list").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No camera found") {
		t.Fatalf("-list: %v\n%s", err, out)
	}
}

func mustGetJSON(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}
