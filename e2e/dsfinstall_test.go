package e2e

// How usbStream behaves inside a DSF installation, beyond the wire
// protocol: started by the twin's plugin service (which restarts an exited
// sbcAutoRestart plugin every 2 s, as DCS does) with the config and the log
// in the SD card's sys folder.

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"usbstream/internal/dsf/dsftest"
)

// A broken config at start under DSF: no exit (DSF would restart it every
// 2 s forever), one DWC message naming the line, the error in plugin data
// and on every stream; the first good save streams within a second.
func TestDSFBrokenConfigAtStart(t *testing.T) {
	for _, profile := range []dsftest.Profile{dsftest.Profile35, dsftest.Profile36} {
		t.Run(string(profile), func(t *testing.T) {
			l := newDSFLayout(t, profile, "-# usbStream\n-source test\n-rotate 45\n")
			began := time.Now()
			proc, s := l.startPlugin(t)
			w := watch(t, s.base+"/stream")
			p, ok := w.waitFor(began, 5*time.Second, isPlaceholder)
			if !ok {
				t.Fatalf("no placeholder on the stream\n%s", s.output)
			}
			if img := decodeJPEG(t, p.jpeg); img.Bounds().Dx() != 640 {
				t.Fatalf("placeholder is %v", img.Bounds())
			}
			eventually(t, 5*time.Second, "plugin data with the config error", func() bool {
				d, ok := pluginData(t, l.twin)
				return ok && !d.Config.OK && d.Config.Defaults && strings.Contains(d.Config.Error, "usbStream.config:3: -rotate 45") &&
					d.Source.State == "lost" && strings.HasPrefix(d.Source.Error, "configuration error: usbStream.config:3:")
			})
			time.Sleep(time.Until(began.Add(5 * time.Second)))
			msgs := l.twin.Messages()
			if len(msgs) != 1 || msgs[0].Type != 2 || !strings.Contains(msgs[0].Content, "usbStream.config:3: -rotate 45") {
				t.Fatalf("DWC messages 5 s after start: %+v, want exactly one error naming line 3", msgs)
			}
			select {
			case <-proc.Done():
				t.Fatalf("exited: %v\n%s", proc.Wait(), s.output)
			default:
			}
			if st := getStatus(t, s); st.Source.State != "lost" {
				t.Fatalf("/status: %+v", st.Source)
			}

			l.saveThroughDWC(t, "-source test\n-resolution 320x240\n")
			saved := time.Now()
			p, ok = w.waitFor(saved, 10*time.Second, isCamera)
			if !ok {
				t.Fatalf("no picture after the fix\n%s", s.output)
			}
			took := p.received.Sub(saved)
			t.Logf("first picture %v after the fixing save", took.Round(time.Millisecond))
			if took > time.Second {
				t.Errorf("first picture %v after the save, want within 1 s", took)
			}
			if sz := decodedSize(t, p); sz.X != 320 {
				t.Fatalf("frame %v after the fix", sz)
			}
			eventually(t, 5*time.Second, "plugin data says streaming with the config applied", func() bool {
				d, _ := pluginData(t, l.twin)
				return d.Source.State == "streaming" && d.Config.OK && !d.Config.Defaults
			})
			eventually(t, 5*time.Second, "a DWC note that the error is fixed", func() bool {
				m := l.twin.Messages()
				return len(m) == 2 && m[1].Type == 0 && strings.Contains(m[1].Content, "error is fixed")
			})
			if n, _ := l.twin.AutoRestarts(); n != 0 || l.twin.Plugin() != proc {
				t.Fatalf("DSF restarted the plugin %d times\n%s", n, s.output)
			}
		})
	}
}

// With -verbose and the log beside the config (where DSF resolves
// 0:/sys/usbStream/usbStream.log), an idle usbStream writes almost
// nothing: its own log writes must not wake the config watcher's logging.
func TestDSFVerboseLogDoesNotFeedItself(t *testing.T) {
	l := newDSFLayout(t, dsftest.Profile36, "-source test\n-resolution 160x120\n-framerate 5\n-verbose\n")
	l.startPlugin(t)
	eventually(t, 10*time.Second, "logging to the SD card", func() bool {
		b, _ := os.ReadFile(l.log)
		return strings.Contains(string(b), "connected to DSF")
	})
	time.Sleep(2 * time.Second) // the start settles: endpoints, first data
	st, err := os.Stat(l.log)
	if err != nil {
		t.Fatal(err)
	}
	before := st.Size()
	time.Sleep(30 * time.Second)
	b, err := os.ReadFile(l.log)
	if err != nil {
		t.Fatal(err)
	}
	grew := int64(len(b)) - before
	t.Logf("log grew by %d bytes in 30 s idle with -verbose", grew)
	if grew < 0 || grew >= 4<<10 {
		t.Errorf("log grew by %d bytes in 30 s (rotated or fed by itself?), want < 4 KiB; it ends:\n%s",
			grew, b[max(0, len(b)-2048):])
	}
	about := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "usbStream.log") && !strings.Contains(line, "logging to the printer's SD card") {
			if about++; about <= 3 {
				t.Errorf("a log line about the log file: %s", line)
			}
		}
	}
	if about > 3 {
		t.Errorf("... and %d more", about-3)
	}
}

// listeningPorts are the TCP ports process pid listens on, from /proc.
func listeningPorts(t *testing.T, pid int) []int {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var ports []int
	for _, table := range []string{"tcp", "tcp6"} {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] { // 0A: LISTEN
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			port, _ := strconv.ParseInt(hexPort, 16, 32)
			ports = append(ports, int(port))
		}
	}
	return ports
}

// With only -token protecting the stream port, DWC's snapshot endpoint is
// protected too: a request without a DWC session must not get the picture
// the port refuses without the token.
func TestDSFSnapshotNeedsASessionWithATokenAlone(t *testing.T) {
	l := newDSFLayout(t, dsftest.Profile36, "-source test\n-resolution 320x240\n-framerate 2\n-token lapse-token-0123456789\n")
	_, s := l.startPlugin(t)
	eventually(t, 10*time.Second, "the endpoints routed by DWS", func() bool {
		code, _, _ := viaDWS(t, l.twin, "/machine/usbStream/status")
		return code == 200
	})
	get := dwsGetter(t, l.twin)
	if resp, _ := get("/machine/usbStream/snapshot", false); resp.StatusCode != 403 {
		t.Fatalf("no session, -token alone: %s, want 403", resp.Status)
	}
	if resp, body := get("/machine/usbStream/snapshot", true); resp.StatusCode != 200 || decodeJPEG(t, body).Bounds().Dx() != 320 {
		t.Fatalf("DWC session: %s", resp.Status)
	}
	if resp, err := http.Get(s.base + "/snapshot"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("stream port without the token: %v %v", resp, err)
	}
}

// GET /machine/usbStream/snapshot through DWS arrives as image/jpeg with a
// Content-Length, in both DSF versions, also when -user/-password protect
// the stream port (then only for a DWC session); the loopback door DWS is
// sent to answers nothing but that one snapshot.
func TestDSFSnapshotIsAJPEG(t *testing.T) {
	for _, profile := range []dsftest.Profile{dsftest.Profile35, dsftest.Profile36} {
		t.Run(string(profile), func(t *testing.T) {
			l := newDSFLayout(t, profile, "-source test\n-resolution 320x240\n-framerate 2\n-user lapse\n-password 's3cret'\n")
			proc, s := l.startPlugin(t)
			eventually(t, 10*time.Second, "the snapshot endpoint routed by DWS", func() bool {
				code, _, _ := viaDWS(t, l.twin, "/machine/usbStream/status")
				return code == 200
			})
			get := dwsGetter(t, l.twin)
			resp, body := get("/machine/usbStream/snapshot", true)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" ||
				resp.ContentLength != int64(len(body)) || resp.Header.Get("X-Placeholder") != "" {
				t.Fatalf("snapshot via DWS: %s %v, %d bytes", resp.Status, resp.Header, len(body))
			}
			if img := decodeJPEG(t, body); img.Bounds().Dx() != 320 {
				t.Fatalf("snapshot %v", img.Bounds())
			}
			// DWC's ?max_delay=0 reaches the snapshot: a frame taken after
			// the request, which at 2 fps keeps it waiting long enough to
			// look at what /status and plugin data say of it meanwhile.
			asked := time.Now()
			type answer struct {
				resp *http.Response
				body []byte
			}
			got := make(chan answer, 1)
			go func() {
				resp, body := get("/machine/usbStream/snapshot?max_delay=0", true)
				got <- answer{resp, body}
			}()
			var status string
			eventually(t, 5*time.Second, "the waiting DWC snapshot in /status", func() bool {
				status = getText(t, s.base+"/status", "lapse", "s3cret")
				return strings.Contains(status, `"path": "/machine/usbStream/snapshot?max_delay=0"`)
			})
			data, _ := l.twin.PluginData("status")
			a := <-got
			ts, _ := strconv.ParseFloat(a.resp.Header.Get("X-Timestamp"), 64)
			if a.resp.StatusCode != 200 || time.UnixMicro(int64(ts*1e6)).Before(asked.Add(-50*time.Millisecond)) {
				t.Fatalf("max_delay=0 via DWS: %s, captured %v, asked %v", a.resp.Status, a.resp.Header.Get("X-Timestamp"), asked)
			}
			decodeJPEG(t, a.body)
			// Neither names the door's port or anything like its token.
			if !strings.Contains(status, `"remote": "dwc-session-`) {
				t.Fatalf("/status does not list the DWC session:\n%s", status)
			}
			token := regexp.MustCompile(`[0-9a-f]{32}`)
			// The access token derived from -user/-password is 32 hex digits
			// too, and is meant to be there (http.token, http.tokenPaths).
			access, _ := tokenOf(t, s, "lapse", "s3cret")
			for what, text := range map[string]string{"/status": status, "plugin data": string(data)} {
				if token.MatchString(strings.ReplaceAll(text, access, "")) {
					t.Fatalf("%s while a DWC snapshot waits shows a token-like string:\n%s", what, text)
				}
			}
			// Without a DWC session the protected picture is refused, as on
			// the stream port without the password.
			if resp, _ := get("/machine/usbStream/snapshot", false); resp.StatusCode != 403 {
				t.Fatalf("no session: %s", resp.Status)
			}
			if resp, err := http.Get(s.base + "/snapshot"); err != nil || resp.StatusCode != 401 {
				t.Fatalf("stream port without the password: %v %v", resp, err)
			}
			// The door: a listener besides the stream port, on loopback,
			// answering 404 to everything a caller without the token tries.
			ports := listeningPorts(t, proc.Pid())
			var door int
			for _, p := range ports {
				if fmt.Sprintf("http://127.0.0.1:%d", p) != s.base {
					door = p
				}
			}
			if len(ports) != 2 || door == 0 {
				t.Fatalf("listening on %v, want the stream port and one door", ports)
			}
			for _, path := range []string{"/", "/snapshot", "/stream", "/status", "/cameras", "/?action=snapshot",
				"/snapshot/snapshot", "/00000000000000000000000000000000/snapshot", "/../snapshot", "/x/stream"} {
				resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", door, path))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 404 || resp.Header.Get("Content-Type") == "image/jpeg" {
					t.Fatalf("door %s: %s %q", path, resp.Status, b)
				}
			}
			for what, text := range map[string]string{"/status": status, "plugin data": string(data)} {
				if strings.Contains(text, fmt.Sprintf(":%d", door)) || strings.Contains(text, fmt.Sprintf(" %d", door)) {
					t.Fatalf("%s names the door's port %d:\n%s", what, door, text)
				}
			}
		})
	}
}
