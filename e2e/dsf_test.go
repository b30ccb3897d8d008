package e2e

// The real binary against the DSF twin (internal/dsf/dsftest), which
// follows DSF's wire protocol: endpoints reached through the twin's DWS
// front over real HTTP, plugin data, DWC messages, DCS restarts, standalone
// running, and the goodbye at SIGTERM.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"usbstream/internal/dsf/dsftest"
	"usbstream/internal/nettest"
)

// Started as DSF's plugin service starts it: refused until DSF registers
// its PID (the startup race), then endpoints, data and messages work.
func TestDSFPlugin(t *testing.T) {
	for _, profile := range []dsftest.Profile{dsftest.Profile35, dsftest.Profile36} {
		t.Run(string(profile), func(t *testing.T) {
			twin := startTwin(t, profile, true)
			dir := t.TempDir()
			cfg := filepath.Join(dir, "usbStream.config")
			os.WriteFile(cfg, []byte("-source test\n-resolution 320x240\n-framerate 10\n"), 0o644)
			s := start(t, "-dsf", twin.SocketPath(), "-file", cfg)
			time.Sleep(700 * time.Millisecond) // DPS tells DCS the PID only after the start
			twin.SetPluginPID(s.pid())

			eventually(t, 5*time.Second, "3 endpoints registered", func() bool { return endpointCount(twin) == 3 })
			for _, e := range twin.Endpoints() {
				if e.Namespace != "usbStream" || e.EndpointType != "GET" || !strings.HasPrefix(e.UnixSocket, twin.SocketPath()[:len(twin.SocketPath())-len("dcs.sock")]) {
					t.Fatalf("endpoint %+v", e)
				}
			}
			// Status through DWS: the same document as /status, plus the URL.
			var code int
			var body []byte
			eventually(t, 10*time.Second, "status via DWS", func() bool {
				code, _, body = viaDWS(t, twin, "/machine/usbStream/status")
				return code == 200
			})
			var st struct {
				Source struct{ State string }
				HTTP   struct {
					Port      int
					StreamURL string `json:"streamUrl"`
				}
				DSF struct{ Connected bool }
			}
			if err := json.Unmarshal(body, &st); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			wantURL := fmt.Sprintf("http://127.0.0.1:%d/stream", st.HTTP.Port)
			if st.HTTP.StreamURL != wantURL || !st.DSF.Connected {
				t.Fatalf("status via DWS: %s (want streamUrl %s)", body, wantURL)
			}
			// Snapshot through DWS: a JPEG, typed as one.
			code, hdr, body := viaDWS(t, twin, "/machine/usbStream/snapshot")
			if code != 200 || hdr.Get("Content-Type") != "image/jpeg" || hdr.Get("Content-Length") != strconv.Itoa(len(body)) {
				t.Fatalf("snapshot via DWS: %d %v (%d bytes)", code, hdr, len(body))
			}
			if img := decodeJPEG(t, body); img.Bounds().Dx() != 320 {
				t.Fatalf("snapshot is %v", img.Bounds())
			}
			if code, _, body = viaDWS(t, twin, "/machine/usbStream/cameras"); code != 200 || !json.Valid(body) {
				t.Fatalf("cameras via DWS: %d %s", code, body)
			}
			// Plugin data follows the status.
			eventually(t, 10*time.Second, "plugin data says streaming", func() bool {
				d, ok := pluginData(t, twin)
				return ok && d.Source.State == "streaming" && d.Source.Width == 320 && d.Process.PID == s.pid()
			})
			w := watch(t, s.base+"/stream")
			eventually(t, 10*time.Second, "plugin data counts the stream client", func() bool {
				d, _ := pluginData(t, twin)
				return d.ClientCount == 1
			})
			w.close()
			// A config error reaches DWC's console with file and line.
			os.WriteFile(cfg, []byte("-source test\n-rotate 45\n"), 0o644)
			eventually(t, 10*time.Second, "config error message", func() bool {
				return hasMessage(twin, 2, "usbStream.config:2: -rotate 45")
			})
			eventually(t, 10*time.Second, "plugin data shows the config error", func() bool {
				d, _ := pluginData(t, twin)
				return !d.Config.OK && strings.Contains(d.Config.Error, "-rotate 45")
			})
			// The log went to the SD card's sys folder, as DSF resolves it.
			logFile := filepath.Join(twin.SDRoot(), "sys", "usbStream", "usbStream.log")
			eventually(t, 10*time.Second, "log file on the SD card", func() bool {
				b, _ := os.ReadFile(logFile)
				return strings.Contains(string(b), "config file not applied")
			})
			// Every command used exact camelCase keys.
			for _, raw := range twin.Commands() {
				var m map[string]json.RawMessage
				json.Unmarshal(raw, &m)
				for k := range m {
					if k[0] < 'a' || k[0] > 'z' {
						t.Fatalf("command %s has key %q", raw, k)
					}
				}
			}

			// SIGTERM: endpoints removed, sockets deleted, quick exit.
			sockets := twin.Endpoints()
			began := time.Now()
			s.stop(t)
			if took := time.Since(began); took > 3*time.Second {
				t.Fatalf("exit took %v, DSF kills after 4 s", took)
			}
			if n := endpointCount(twin); n != 0 {
				t.Fatalf("%d endpoints left registered after exit", n)
			}
			for _, e := range sockets {
				if _, err := os.Stat(e.UnixSocket); !os.IsNotExist(err) {
					t.Fatalf("socket %s left behind: %v", e.UnixSocket, err)
				}
			}
		})
	}
}

// DCS restarts (DSF updates, crashes): each time the endpoints and the
// plugin data are back within 5 s, and the stream never stops.
func TestDSFRestarts(t *testing.T) {
	twin := startTwin(t, dsftest.Profile36, false)
	s := start(t, "-source", "test", "-resolution", "160x120", "-framerate", "10", "-dsf", twin.SocketPath())
	w := watch(t, s.base+"/stream")
	eventually(t, 5*time.Second, "registered", func() bool { return endpointCount(twin) == 3 })
	for cycle := range 10 {
		if err := twin.Restart(300 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		// DWS routes to new endpoints a moment after DCS has them.
		eventually(t, 5*time.Second, fmt.Sprintf("cycle %d: endpoints, data and DWS route back", cycle), func() bool {
			d, ok := pluginData(t, twin)
			if endpointCount(twin) != 3 || !ok || d.Source.State != "streaming" {
				return false
			}
			code, _, _ := viaDWS(t, twin, "/machine/usbStream/status")
			return code == 200
		})
		t.Logf("cycle %d: back after %v", cycle, time.Since(began).Round(time.Millisecond))
	}
	if _, ok := w.waitFor(time.Now(), 2*time.Second, isCamera); !ok || w.broken() != nil {
		t.Fatalf("the stream stopped during the DCS restarts: %v", w.broken())
	}
}

// Without DSF usbStream runs standalone, quietly; a DSF that starts later
// is picked up.
func TestDSFAbsentThenStarted(t *testing.T) {
	dir, err := os.MkdirTemp("", "dsf")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "run", "dsf", "dcs.sock")
	s := start(t, "-source", "test", "-resolution", "160x120", "-dsf", socket)
	time.Sleep(1500 * time.Millisecond)
	if st := getStatus(t, s); st.Source.State != "streaming" {
		t.Fatalf("standalone: %+v", st.Source)
	}
	if out := s.output.String(); strings.Contains(out, "WARN") || strings.Count(out, "DSF is not running") != 1 {
		t.Fatalf("standalone should say once, at info, that DSF is absent:\n%s", out)
	}
	twin, err := dsftest.Start(dsftest.Options{Dir: dir, Manifest: repoFile(t, "plugin.json")})
	if err != nil {
		t.Fatal(err)
	}
	defer twin.Close()
	eventually(t, 5*time.Second, "connected to the DSF that started later", func() bool {
		_, ok := pluginData(t, twin)
		return endpointCount(twin) == 3 && ok
	})
}

// Losing the source and getting it back are told to DWC's console, once each.
func TestDSFMessagesForLostAndBack(t *testing.T) {
	twin := startTwin(t, dsftest.Profile36, false)
	dir := filepath.Join(t.TempDir(), "frames")
	os.Mkdir(dir, 0o755)
	writeNoiseJPEGs(t, dir, 64, 48, 2)
	start(t, "-source", "file:"+dir, "-framerate", "10", "-dsf", twin.SocketPath())
	eventually(t, 5*time.Second, "plugin data says streaming", func() bool {
		d, ok := pluginData(t, twin)
		return ok && d.Source.State == "streaming"
	})
	hidden := dir + ".away"
	os.Rename(dir, hidden)
	eventually(t, 5*time.Second, "a warning that the source is lost", func() bool { return hasMessage(twin, 1, "lost") })
	os.Rename(hidden, dir)
	eventually(t, 5*time.Second, "a note that it is back", func() bool { return hasMessage(twin, 0, "is back") })
	if n := len(twin.Messages()); n != 2 {
		t.Fatalf("%d messages, want 2: %+v", n, twin.Messages())
	}
}

// Under DSF a taken port is not a reason to exit (DSF would restart us into
// the same error forever): usbStream stays, says so in DWC, and takes the
// port when it is freed.
func TestDSFPortInUseWaitsForThePort(t *testing.T) {
	twin := startTwin(t, dsftest.Profile36, false)
	taken, port := nettest.Taken(t)
	// Spawned, not started: it cannot serve /status while the port is taken.
	s := spawn(t, exec.Command(binary, "-host", "127.0.0.1", "-port", strconv.Itoa(port), "-source", "test",
		"-resolution", "160x120", "-dsf", twin.SocketPath()), port)
	eventually(t, 5*time.Second, "a DWC message about the port", func() bool { return hasMessage(twin, anyType, "already in use") })
	eventually(t, 5*time.Second, "the error in the status via DWS", func() bool {
		code, _, body := viaDWS(t, twin, "/machine/usbStream/status")
		return code == 200 && strings.Contains(string(body), "already in use")
	})
	if exited, err := s.waitExit(0); exited {
		t.Fatalf("exited with the port taken: %v\n%s", err, s.output)
	}
	taken.Close()
	eventually(t, 8*time.Second, "serving once the port is free", func() bool {
		resp, err := http.Get(s.base + "/status")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	eventually(t, 10*time.Second, "a DWC message that it serves now", func() bool { return hasMessage(twin, anyType, "now serving on port") })
}
