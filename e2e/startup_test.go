package e2e

// Starting and its mistakes, as a person at a terminal and a service
// (systemd, DSF, nohup) see them: the version, a missing source or camera,
// a broken or missing or unreadable config file, a bad command line, a
// port in use.

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"usbstream/internal/nettest"
)

// A missing source is a state, not an exit: placeholders are served, the
// snapshot says 503, and /status tells why.
func TestMissingSourceServesPlaceholder(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "not-there")
	s := start(t, "-source", "file:"+missing)
	waitState(t, s, "lost", "not-there", 5*time.Second)
	placeholderSnapshot(t, s, "snapshot of a missing source")
	// The folder appears later: the source is picked up without a restart.
	os.Mkdir(missing, 0o755)
	var b bytes.Buffer
	jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 64, 48)), nil)
	os.WriteFile(filepath.Join(missing, "a.jpg"), b.Bytes(), 0o644)
	waitState(t, s, "streaming", "", 5*time.Second)
}

// VERSION is the one place the version is set; build.sh stamps it into
// release binaries (-X main.version), manifests and zip names. A plain
// build's -version says VERSION's version with -dev, so that a plain `go
// build` and the manifest do not drift; a release build says VERSION. Both
// name the Go release and platform the binary was built with, whose
// standard library is part of what ships.
func TestVersionNamesTheBuild(t *testing.T) {
	release := strings.TrimSpace(string(repoFile(t, "VERSION")))
	var m struct{ Version string }
	if err := json.Unmarshal(repoFile(t, "plugin.json"), &m); err != nil || m.Version != release {
		t.Errorf("plugin.json version %q (%v), want VERSION's %q", m.Version, err, release)
	}
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	version, settings := release+"-dev", map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	// Go records -ldflags only without -trimpath; build.sh's release
	// builds use -trimpath and stamp VERSION.
	if m := regexp.MustCompile(`-X[= ]main\.version=(\S+)`).FindStringSubmatch(settings["-ldflags"]); m != nil {
		version = m[1]
	} else if settings["-trimpath"] == "true" {
		version = release
	}
	out, err := exec.Command(binary, "-version").CombinedOutput()
	if err != nil {
		t.Fatalf("-version: %v\n%s", err, out)
	}
	want := fmt.Sprintf("usbStream %s (%s %s/%s)\n", version, info.GoVersion, settings["GOOS"], settings["GOARCH"])
	if string(out) != want {
		t.Fatalf("-version printed %q, want %q", out, want)
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
	if st := waitState(t, s, "lost", "waiting for camera", 5*time.Second); !st.Source.Waiting || !strings.HasPrefix(st.Source.Error, "waiting for camera") {
		t.Fatalf("source waiting %v, error %q; want waiting, and an error that says so", st.Source.Waiting, st.Source.Error)
	}
	placeholderSnapshot(t, s, "snapshot without a camera")
	if out := s.output.String(); strings.Contains(out, "WARN") {
		t.Fatalf("waiting for a camera logged a warning:\n%s", out)
	}
	if got := getText(t, s.base+"/cameras", "", ""); got != "[]" {
		t.Fatalf("/cameras = %s, want []", got)
	}
	out, err := exec.Command(binary, "-list").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No camera found") {
		t.Fatalf("-list: %v\n%s", err, out)
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
	other := nettest.FreePort(t)
	os.WriteFile(cfg, []byte(fmt.Sprintf("-port %d\n-source test\n-user lapse\n-password pw\n-rotate 45\n", other)), 0o644)
	s := start(t, "-dsf", "none", "-file", cfg)
	st := statusOf(t, s.base, "", "")
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
	waitStatus(t, s.base, "", "", "the good file", func(d statusDoc) bool { return d.Config.OK })
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
	if st := statusOf(t, s.base, "", ""); st.Config.OK || !strings.Contains(st.Config.Error, "no such file") {
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
	port := nettest.FreePort(t)
	cmd := exec.Command(binary, "-host", "127.0.0.1", "-port", strconv.Itoa(port), "-dsf", "none", "-file", cfg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	s := launch(t, cmd, port)
	if st := statusOf(t, s.base, "", ""); st.Config.OK || !strings.Contains(st.Config.Error, "permission denied") {
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
	waitStatus(t, s.base, "", "", "the file readable after chmod", func(d statusDoc) bool { return d.Config.OK })
	w := watch(t, s.base+"/stream")
	if sz := latestSize(t, w, time.Now()); sz != image.Pt(320, 240) {
		t.Fatalf("after the chmod: %v", sz)
	}

	missing := filepath.Join(t.TempDir(), "usbStream.config")
	s = start(t, "-dsf", "none", "-file", missing)
	if err := os.WriteFile(missing, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, s.base, "", "", "an empty file, which is the defaults", func(d statusDoc) bool { return d.Config.OK })
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
	_, taken := nettest.Taken(t)
	port := strconv.Itoa(taken)
	out, err := exec.Command(binary, "-source", "test", "-host", "127.0.0.1", "-port", port).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1\n%s", err, out)
	}
	if !strings.Contains(string(out), port) || !strings.Contains(string(out), "in use") {
		t.Fatalf("message does not say the port is in use:\n%s", out)
	}
}
