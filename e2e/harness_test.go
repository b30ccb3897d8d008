package e2e

// The harness every end-to-end test uses: the binary, built once per run;
// servers on free loopback ports, stopped with SIGTERM and required to exit
// 0; waits for a state; /status and other answers read back; stream
// watchers; test pictures; config saves as DWC makes them; the DSF twin
// with usbStream's place on its SD card.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"usbstream/internal/dsf/dsftest"
	"usbstream/internal/nettest"
)

// binary is the usbStream under test.
var binary string

func TestMain(m *testing.M) {
	// In the V4L2 VM there is no Go toolchain: tools/vmtest/camera.sh
	// builds the binary on the host and names it here. Naming an older
	// build shows whether a test fails without a fix.
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
	build := exec.Command("go", "build", "-o", binary, "usbstream/sbc")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building usbStream:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repoFile reads a file of the repository, named by its path from the top.
func repoFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// need returns the path of an external tool, or skips the test when it is
// not installed (fails in CI, see missing).
func need(t *testing.T, tool string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		missing(t, tool, "apt-get install "+tool)
	}
	return path
}

// missing skips a test whose tool is not installed, saying how to install
// it. In CI, where .ci/run installs every such tool, its absence is a
// failure instead: a skip there would hide the test.
func missing(t *testing.T, tool, install string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed (CI installs it in .ci/run)", tool)
	}
	t.Skipf("%s is not installed: %s", tool, install)
}

// syncBuffer collects a process's output while the test reads it.
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

// server is a usbStream process under test.
type server struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:PORT
	output *syncBuffer
	done   chan struct{} // closed when the process has exited; nil when another (the twin) waits for it
	err    error         // how it exited, once done is closed
}

// serverFor prepares cmd, a usbStream that will serve on 127.0.0.1:port,
// with its output captured, without starting it.
func serverFor(cmd *exec.Cmd, port int) *server {
	s := &server{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), output: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = s.output, s.output
	return s
}

// start runs usbStream with args on a free loopback port and waits until
// /status answers. It is stopped with SIGTERM when the test ends, and must
// then exit with status 0.
func start(t *testing.T, args ...string) *server {
	t.Helper()
	port := nettest.FreePort(t)
	args = append([]string{"-host", "127.0.0.1", "-port", strconv.Itoa(port)}, args...)
	return launch(t, exec.Command(binary, args...), port)
}

// startOnConfig writes content as usbStream.config in a new directory and
// starts usbStream on it standalone (-dsf none), as start does. It returns
// the config's path, for the test to save over it.
func startOnConfig(t *testing.T, content string) (*server, string) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "usbStream.config")
	if err := os.WriteFile(cfg, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return start(t, "-dsf", "none", "-file", cfg), cfg
}

// launch starts cmd, a usbStream that serves on 127.0.0.1:port, as start
// does.
func launch(t *testing.T, cmd *exec.Cmd, port int) *server {
	t.Helper()
	s := spawn(t, cmd, port)
	s.waitServing(t)
	return s
}

// spawn starts cmd, a usbStream meant to serve on 127.0.0.1:port, without
// waiting for it to serve: for one that exits at once or serves only
// later. If it still runs when the test ends, it is stopped as start's.
func spawn(t *testing.T, cmd *exec.Cmd, port int) *server {
	t.Helper()
	s := serverFor(cmd, port)
	s.done = make(chan struct{})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// waitServing waits up to 10 s for /status to answer.
func (s *server) waitServing(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(s.base + "/status")
		if err == nil {
			resp.Body.Close()
			return
		}
		if exited, err := s.waitExit(0); exited {
			t.Fatalf("usbStream exited at start: %v\n%s", err, s.output)
		}
		if time.Now().After(deadline) {
			t.Fatalf("usbStream did not answer within 10 s\n%s", s.output)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitExit waits up to d for the process to exit and says whether it did,
// and how.
func (s *server) waitExit(d time.Duration) (bool, error) {
	if s.done == nil {
		return false, nil
	}
	select {
	case <-s.done:
		return true, s.err
	default:
	}
	if d <= 0 {
		return false, nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-s.done:
		return true, s.err
	case <-timer.C:
		return false, nil
	}
}

func (s *server) addr() string { return strings.TrimPrefix(s.base, "http://") }

// port is the port the server was started on.
func (s *server) port() int {
	_, p, _ := net.SplitHostPort(s.addr())
	n, _ := strconv.Atoi(p)
	return n
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop ends the process as at the end of a test, unless it has exited.
func (s *server) stop(t *testing.T) {
	if exited, _ := s.waitExit(0); !exited {
		s.terminate(t)
	}
}

// terminate sends SIGTERM and requires exit status 0 within 5 s; it
// returns how long the exit took.
func (s *server) terminate(t *testing.T) time.Duration {
	t.Helper()
	if s.done == nil {
		t.Fatal("the DSF twin runs this process: stop it with the twin's Process.Stop")
	}
	began := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	exited, err := s.waitExit(5 * time.Second)
	took := time.Since(began)
	if !exited {
		s.cmd.Process.Kill()
		t.Errorf("usbStream did not exit within 5 s of SIGTERM\n%s", s.output)
	} else if err != nil {
		t.Errorf("usbStream exited with %v after SIGTERM\n%s", err, s.output)
	}
	return took
}

// stopWithin terminates the process and requires the exit within limit.
func (s *server) stopWithin(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	took := s.terminate(t)
	if took > limit {
		t.Errorf("exit took %v after SIGTERM, want < %v", took, limit)
	}
	return took
}

// eventually polls cond for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// statusDoc is what the tests read from /status.
type statusDoc struct {
	Version string
	Source  struct {
		Kind, State, Error, Device string
		Name, Format               string
		Notes                      []string
		Waiting                    bool
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
	}
	Clients []struct {
		Remote, Path, Kind string
		Frames             uint64
		ConnectedAt        time.Time `json:"connectedAt"`
	}
	Process processStats
	Config  struct {
		OK       bool
		Error    string
		LoadedAt time.Time
		Changed  []string
	}
	HTTP struct {
		Host        string
		Port        int
		Auth, Basic bool
		Error       string
		Token       string
		TokenPaths  map[string]string
		StreamURL   string `json:"streamUrl"`
	}
	DSF struct{ Connected bool }
}

// processStats is what /status says of the process's resources.
type processStats struct {
	Goroutines, OpenFiles int
	RSSBytes              int64
}

// getAuth fetches url with basic auth (none when user is "") and returns
// the status code and body; of a stream, which never ends, only its first
// few hundred bytes.
func getAuth(t *testing.T, url, user, pass string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/") {
		b := make([]byte, 512)
		n, _ := io.ReadAtLeast(resp.Body, b, 100)
		return resp.StatusCode, b[:n]
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// getText fetches url as getAuth does and returns its body, which must
// come with status 200.
func getText(t *testing.T, url, user, pass string) string {
	t.Helper()
	code, b := getAuth(t, url, user, pass)
	if code != 200 {
		t.Fatalf("%s: %d %s", url, code, b)
	}
	return strings.TrimSpace(string(b))
}

// statusOf reads /status of the server at base, with basic auth when
// user is not "".
func statusOf(t *testing.T, base, user, pass string) statusDoc {
	t.Helper()
	var st statusDoc
	if err := json.Unmarshal([]byte(getText(t, base+"/status", user, pass)), &st); err != nil {
		t.Fatalf("%s/status: %v", base, err)
	}
	return st
}

func getStatus(t *testing.T, s *server) statusDoc {
	t.Helper()
	return statusOf(t, s.base, "", "")
}

// pollStatus reads /status at base until ok holds or d has passed, and
// returns the last document and whether ok held.
func pollStatus(t *testing.T, base, user, pass string, d time.Duration, ok func(statusDoc) bool) (statusDoc, bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		st := statusOf(t, base, user, pass)
		if ok(st) {
			return st, true
		}
		if time.Now().After(deadline) {
			return st, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStatus polls /status until ok holds. The 10 s bound catches hangs;
// how fast a save applies is measured by internal/configwatch, not timed
// here.
func waitStatus(t *testing.T, base, user, pass, what string, ok func(statusDoc) bool) statusDoc {
	t.Helper()
	st, held := pollStatus(t, base, user, pass, 10*time.Second, ok)
	if !held {
		t.Fatalf("%s: not seen within 10 s; status %+v", what, st)
	}
	return st
}

// waitState polls /status until the source is in state and its error
// contains errHas.
func waitState(t *testing.T, s *server, state, errHas string, d time.Duration) statusDoc {
	t.Helper()
	st, held := pollStatus(t, s.base, "", "", d, func(st statusDoc) bool {
		return st.Source.State == state && strings.Contains(st.Source.Error, errHas)
	})
	if !held {
		t.Fatalf("source %+v, want state %s with error containing %q within %v\n%s", st.Source, state, errHas, d, s.output)
	}
	return st
}

// tokenOf reads the access token from /status, as a user copies it.
func tokenOf(t *testing.T, s *server, user, pass string) (token string, paths map[string]string) {
	t.Helper()
	h := statusOf(t, s.base, user, pass).HTTP
	if !h.Auth || h.Basic != (user != "") || h.Token == "" {
		t.Fatalf("/status http: %+v", h)
	}
	return h.Token, h.TokenPaths
}

// saveLikeDWC writes the file the way DWC's editor does (through DWS): the
// whole text to "<name>.part", then a rename over the original.
func saveLikeDWC(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path+".part", []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".part", path); err != nil {
		t.Fatal(err)
	}
}

// part is one multipart part as a client received it.
type part struct {
	placeholder bool
	captured    time.Time // X-Timestamp
	received    time.Time // when its last byte arrived
	jpeg        []byte
}

// watcher reads a /stream in the background and keeps every part.
type watcher struct {
	mu    sync.Mutex
	parts []part
	err   error
	resp  *http.Response
	done  chan struct{}
}

func watch(t *testing.T, url string) *watcher {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{resp: resp, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		mr := multipart.NewReader(resp.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == nil {
				var buf bytes.Buffer
				_, err = buf.ReadFrom(p)
				if err == nil {
					ts, _ := strconv.ParseFloat(p.Header.Get("X-Timestamp"), 64)
					w.mu.Lock()
					w.parts = append(w.parts, part{placeholder: p.Header.Get("X-Placeholder") == "1",
						captured: time.UnixMicro(int64(ts * 1e6)), received: time.Now(), jpeg: buf.Bytes()})
					w.mu.Unlock()
					continue
				}
			}
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
	}()
	t.Cleanup(w.close)
	return w
}

func (w *watcher) close() {
	w.resp.Body.Close()
	<-w.done
}

// broken is why the stream ended, or nil while it runs.
func (w *watcher) broken() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// since returns the parts received at or after t.
func (w *watcher) since(t time.Time) []part {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := slices.IndexFunc(w.parts, func(p part) bool { return !p.received.Before(t) })
	if i < 0 {
		return nil
	}
	return slices.Clone(w.parts[i:])
}

// waitFor waits up to d for a part received after t that satisfies ok.
func (w *watcher) waitFor(t time.Time, d time.Duration, ok func(part) bool) (part, bool) {
	deadline := time.Now().Add(d)
	for {
		for _, p := range w.since(t) {
			if ok(p) {
				return p, true
			}
		}
		if w.broken() != nil || time.Now().After(deadline) {
			return part{}, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func isCamera(p part) bool      { return !p.placeholder }
func isPlaceholder(p part) bool { return p.placeholder }

// latestSize decodes the first camera frame the watcher received after t.
func latestSize(t *testing.T, w *watcher, after time.Time) image.Point {
	t.Helper()
	p, ok := w.waitFor(after, 10*time.Second, isCamera)
	if !ok {
		t.Fatalf("no frame after %v (stream error %v)", after, w.broken())
	}
	return decodedSize(t, p)
}

// countFrames reads a stream for d and counts its parts.
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

func decodeJPEG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a complete JPEG (%d bytes): %v", len(b), err)
	}
	return img
}

func decodedSize(t *testing.T, p part) image.Point {
	t.Helper()
	return decodeJPEG(t, p.jpeg).Bounds().Size()
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// snapshotImage fetches /snapshot, which must be a camera frame (200, no
// placeholder).
func snapshotImage(t *testing.T, s *server) image.Image {
	t.Helper()
	resp, err := http.Get(s.base + "/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("X-Placeholder") != "" {
		t.Fatalf("snapshot: %d (placeholder %q) %s", resp.StatusCode, resp.Header.Get("X-Placeholder"), body)
	}
	return decodeJPEG(t, body)
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

// writeJPEGs writes one solid-colour JPEG per colour into dir, as
// frame0.jpg, frame1.jpg, ..., and returns their bytes.
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

// startTwin starts a DSF twin for plugin.json; with reject, DCS refuses a
// plugin process until DPS has registered its PID, as DSF does.
func startTwin(t *testing.T, profile dsftest.Profile, reject bool) *dsftest.Twin {
	t.Helper()
	// UNIX socket paths are limited to 108 bytes: keep the root short.
	dir, err := os.MkdirTemp("", "dsf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	twin, err := dsftest.Start(dsftest.Options{Dir: dir, Profile: profile, Manifest: repoFile(t, "plugin.json"), RejectUnregistered: reject})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { twin.Close() })
	return twin
}

// viaDWS makes a real HTTP request to the twin's web server, as a browser
// running DWC does.
func viaDWS(t *testing.T, twin *dsftest.Twin, path string) (int, http.Header, []byte) {
	t.Helper()
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(twin.HTTPURL() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

// dwsGetter logs in to DWS as DWC does and returns a GET through DWS, with
// that session or with a made-up key (which is no session).
func dwsGetter(t *testing.T, twin *dsftest.Twin) func(path string, session bool) (*http.Response, []byte) {
	t.Helper()
	// DWC's login: a key DWS issued (made-up keys are no session).
	_, _, connect := viaDWS(t, twin, "/machine/connect?password=")
	var login struct{ SessionKey string }
	if err := json.Unmarshal(connect, &login); err != nil || login.SessionKey == "" {
		t.Fatalf("connect: %s %v", connect, err)
	}
	return func(path string, session bool) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, twin.HTTPURL()+path, nil)
		req.Header.Set("X-Session-Key", "made-up")
		if session {
			req.Header.Set("X-Session-Key", login.SessionKey)
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
}

// pluginStatus is what the tests read from the plugin data usbStream
// publishes: the summary of /status, with /status's names at /status's
// places.
type pluginStatus struct {
	Source struct {
		State   string
		Waiting bool
		Device  string
		Width   int
		Error   string
	}
	ClientCount int
	Process     struct{ PID int }
	HTTP        struct {
		Port       int
		Token      string
		TokenPaths map[string]string
	}
	Config struct {
		OK       bool
		Error    string
		Defaults bool
	}
}

func pluginData(t *testing.T, twin *dsftest.Twin) (pluginStatus, bool) {
	raw, ok := twin.PluginData("status")
	if !ok || string(raw) == "null" {
		return pluginStatus{}, false
	}
	var st pluginStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("plugin data %s: %v", raw, err)
	}
	return st, true
}

func endpointCount(twin *dsftest.Twin) int { return len(twin.Endpoints()) }

// anyType matches a DWC message of any type in hasMessage.
const anyType = -1

// hasMessage tells whether DWC's console got a message of type typ (0
// info, 1 warning, 2 error, or anyType) that contains every text.
func hasMessage(twin *dsftest.Twin, typ int, texts ...string) bool {
	for _, m := range twin.Messages() {
		if (typ == anyType || m.Type == typ) && !slices.ContainsFunc(texts, func(s string) bool { return !strings.Contains(m.Content, s) }) {
			return true
		}
	}
	return false
}

// dsfLayout is a twin with usbStream's config folder on its SD card.
type dsfLayout struct {
	twin   *dsftest.Twin
	config string // <sd>/sys/usbStream/usbStream.config
	log    string // <sd>/sys/usbStream/usbStream.log
}

func newDSFLayout(t *testing.T, profile dsftest.Profile, config string) dsfLayout {
	t.Helper()
	twin := startTwin(t, profile, true)
	dir := filepath.Join(twin.SDRoot(), "sys", "usbStream")
	if err := os.MkdirAll(dir, 0o775); err != nil {
		t.Fatal(err)
	}
	l := dsfLayout{twin: twin, config: filepath.Join(dir, "usbStream.config"), log: filepath.Join(dir, "usbStream.log")}
	if err := os.WriteFile(l.config, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return l
}

// startPlugin starts the binary as DPS does (no terminal, the pid known to
// DCS half a second late) with the manifest's -file and the test's own
// address and socket, and waits for /status. The twin owns the process:
// the server's base and output are for the test, the twin stops it.
func (l dsfLayout) startPlugin(t *testing.T, extra ...string) (*dsftest.Process, *server) {
	t.Helper()
	port := nettest.FreePort(t)
	args := append([]string{"-host", "127.0.0.1", "-port", fmt.Sprint(port), "-dsf", l.twin.SocketPath()}, extra...)
	args = append(args, "-file", l.config)
	s := serverFor(exec.Command(binary, args...), port)
	proc, err := l.twin.StartPlugin(s.cmd, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.twin.Plugin().Stop(); err != nil {
			t.Errorf("stop: %v\n%s", err, s.output)
		}
	})
	s.waitServing(t)
	return proc, s
}

// saveThroughDWC saves the config as DWC's editor does: PUT
// /machine/file/0:/sys/usbStream/usbStream.config on DWS.
func (l dsfLayout) saveThroughDWC(t *testing.T, content string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, l.twin.HTTPURL()+"/machine/file/"+
		url.PathEscape("0:/sys/usbStream/usbStream.config"), strings.NewReader(content))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT /machine/file: %s", resp.Status)
	}
}
