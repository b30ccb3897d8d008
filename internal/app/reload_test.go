package app

import (
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"usbstream/internal/camera"
	"usbstream/internal/nettest"
)

// testPattern is a small, slow test pattern on 127.0.0.1; {port} is
// replaced by a free port.
const testPattern = "-host 127.0.0.1\n-port {port}\n-source test\n-size 8\n-framerate 5\n"

// cameraNotThere is a camera source waiting for a device that does not
// exist, so that the reload decisions about cameras run without one.
const cameraNotThere = "-host 127.0.0.1\n-port {port}\n-camera /dev/usbstream-test-no-camera\n-framerate 10\n"

// TestReloadDecisions saves a config file's new content and checks what
// the running App did with each change: which options it reports, whether
// the source restarted, and the effect on the HTTP server and the log.
func TestReloadDecisions(t *testing.T) {
	basic := http.Header{"Authorization": {"Basic dTpw"}} // u:p
	tests := []struct {
		name        string
		start, save string
		args        []string // command-line options after -file
		changed     []string
		restarts    bool
		ok          bool // the save is applied
		check       func(t *testing.T, ta *testApp, port, port2 int)
	}{
		{name: "an unchanged save changes nothing", start: testPattern, save: testPattern, ok: true,
			check: func(t *testing.T, ta *testApp, _, _ int) {
				if !ta.logged("config file saved without changes") {
					t.Error("the log does not say the save changed nothing")
				}
			}},
		{name: "-rotate restarts the test pattern", start: testPattern, save: testPattern + "-rotate 90\n",
			changed: []string{"-rotate"}, restarts: true, ok: true},
		{name: "-quality restarts the test pattern", start: testPattern, save: testPattern + "-quality 50\n",
			changed: []string{"-quality"}, restarts: true, ok: true},
		{name: "a lower -framerate restarts the test pattern", start: testPattern,
			save:    strings.Replace(testPattern, "-framerate 5", "-framerate 2", 1),
			changed: []string{"-framerate"}, restarts: true, ok: true},
		{name: "-resolution reopens the source", start: testPattern,
			save:    strings.Replace(testPattern, "-size 8", "-resolution 160x120", 1),
			changed: []string{"-size", "-resolution"}, restarts: true, ok: true},
		{name: "a camera takes -rotate, -flip, -quality and a lower -framerate live", start: cameraNotThere,
			save:    strings.Replace(cameraNotThere, "-framerate 10", "-framerate 5", 1) + "-rotate 90\n-flip h\n-quality 50\n",
			changed: []string{"-rotate", "-framerate", "-flip", "-quality"}, ok: true,
			check: func(t *testing.T, ta *testApp, _, _ int) {
				if _, ok := ta.source().(*camera.Source); !ok {
					t.Errorf("the source is a %T, not the camera", ta.source())
				}
			}},
		{name: "a camera reopens for a higher -framerate than it was opened with", start: cameraNotThere,
			save:    strings.Replace(cameraNotThere, "-framerate 10", "-framerate 20", 1),
			changed: []string{"-framerate"}, restarts: true, ok: true},
		{name: "a camera reopens for another -camera", start: cameraNotThere,
			save:    strings.Replace(cameraNotThere, "no-camera", "no-other-camera", 1),
			changed: []string{"-camera"}, restarts: true, ok: true},
		{name: "-maxclients applies to new requests", start: testPattern, save: testPattern + "-maxclients 1\n",
			changed: []string{"-maxclients"}, ok: true,
			check: func(t *testing.T, ta *testApp, port, _ int) {
				resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/stream")
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("the one stream allowed: %v %v", resp, err)
				}
				defer resp.Body.Close()
				if code := ta.get(port, "/snapshot", nil); code != http.StatusServiceUnavailable {
					t.Errorf("a second client with -maxclients 1: %d, want 503", code)
				}
			}},
		{name: "-allowhost applies to new requests", start: testPattern, save: testPattern + "-allowhost printer.local\n",
			changed: []string{"-allowhost"}, ok: true,
			check: func(t *testing.T, ta *testApp, port, _ int) {
				if code := ta.get(port, "/status", http.Header{"Host": {"other.example"}}); code != http.StatusMisdirectedRequest {
					t.Errorf("a host name not on the list: %d, want 421", code)
				}
				if code := ta.get(port, "/status", http.Header{"Host": {"printer.local"}}); code != http.StatusOK {
					t.Errorf("the listed host name: %d", code)
				}
			}},
		{name: "-user and -password switch the credentials", start: testPattern,
			save:    testPattern + "-user u\n-password p\n",
			changed: []string{"-user", "-password"}, ok: true,
			check: func(t *testing.T, ta *testApp, port, _ int) {
				if code := ta.get(port, "/snapshot", nil); code != http.StatusUnauthorized {
					t.Errorf("a snapshot without credentials: %d, want 401", code)
				}
				if st := ta.Status().HTTP; !st.Auth || st.Token == "" {
					t.Errorf("the status shows no auth or no derived token: %+v", st)
				}
			}},
		{name: "-allow-origin applies to new requests", start: testPattern, save: testPattern + "-allow-origin none\n",
			changed: []string{"-allow-origin"}, ok: true,
			check: func(t *testing.T, ta *testApp, port, _ int) {
				req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+"/snapshot", nil)
				req.Header.Set("Origin", "http://duet.local")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("a snapshot for another origin after -allow-origin none: %d, Access-Control-Allow-Origin %q",
						resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
				}
			}},
		{name: "-port moves the listener", start: testPattern,
			save: strings.Replace(testPattern, "{port}", "{port2}", 1), changed: []string{"-port"}, ok: true,
			check: func(t *testing.T, ta *testApp, port, port2 int) {
				if got := ta.port(); got != port2 {
					t.Fatalf("listening on %d, want %d", got, port2)
				}
				if code := ta.get(port2, "/status", nil); code != http.StatusOK {
					t.Errorf("the new port answers %d", code)
				}
				if code := ta.get(port, "/status", nil); code != 0 {
					t.Errorf("the old port still answers %d", code)
				}
				if st := ta.Status().HTTP; st.Port != port2 || st.Error != "" {
					t.Errorf("status %+v", st)
				}
			}},
		{name: "-dsf applies after a restart", start: testPattern, save: testPattern + "-dsf /run/dsf/other.sock\n",
			changed: []string{"-dsf"}, ok: true,
			check: func(t *testing.T, ta *testApp, _, _ int) {
				if !ta.logged("a changed -dsf applies after a restart") {
					t.Error("no warning that -dsf applies after a restart")
				}
				if ta.dsf != nil {
					t.Error("a DSF session started on a reload")
				}
			}},
		{name: "-logfile switches the log", start: testPattern, save: testPattern + "-logfile other.log\n",
			changed: []string{"-logfile"}, ok: true,
			check: func(t *testing.T, ta *testApp, _, _ int) {
				if other := filepath.Join(filepath.Dir(ta.file), "other.log"); !logHas(other, "configuration reloaded") {
					t.Errorf("the new log file %s does not have the reload's line", other)
				}
			}},
		{name: "an invalid file keeps the last good configuration", start: testPattern,
			save: strings.Replace(testPattern, "{port}", "{port2}", 1) + "-rotate 45\n",
			check: func(t *testing.T, ta *testApp, port, _ int) {
				if st := ta.Status().Config; !strings.Contains(st.Error, "-rotate 45: must be 0, 90, 180 or 270") {
					t.Errorf("status error %q", st.Error)
				}
				if ta.port() != port || ta.config().Rotate != 0 {
					t.Errorf("the invalid file changed the port (%d) or the rotation (%d)", ta.port(), ta.config().Rotate)
				}
			}},
		{name: "a save that loses the credentials is refused", start: testPattern + "-user u\n-password p\n",
			save: testPattern,
			check: func(t *testing.T, ta *testApp, port, _ int) {
				if st := ta.Status().Config; !strings.Contains(st.Error, "-auth none") {
					t.Errorf("status error %q", st.Error)
				}
				if code := ta.get(port, "/snapshot", nil); code != http.StatusUnauthorized {
					t.Errorf("a snapshot without credentials after the refused save: %d, want 401", code)
				}
				if code := ta.get(port, "/status", basic); code != http.StatusOK {
					t.Errorf("status with the credentials: %d", code)
				}
			}},
		// Even when the save asks for nothing but the defaults, which the
		// stand-in showing the start's error already runs on.
		{name: "the first good save after a bad start replaces the stand-in source", start: "-rotate 45\n",
			save: "-quality 85\n", args: []string{"-host", "127.0.0.1", "-port", "{port}", "-camera", "/dev/usbstream-test-no-camera"},
			restarts: true, ok: true,
			check: func(t *testing.T, ta *testApp, _, _ int) {
				if st := ta.Status().Config; st.Defaults {
					t.Errorf("still on the defaults: %+v", st)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port, port2 := nettest.FreePort(t), nettest.FreePort(t)
			fill := func(s string) string {
				return strings.NewReplacer("{port2}", strconv.Itoa(port2), "{port}", strconv.Itoa(port)).Replace(s)
			}
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = fill(a)
			}
			ta := startApp(t, fill(tt.start), args...)
			before, cfgBefore := ta.source(), ta.config()

			ta.Reload(ta.ctx, []byte(fill(tt.save)))

			st := ta.Status().Config
			if st.OK != tt.ok {
				t.Fatalf("applied = %v, want %v (error %q)", st.OK, tt.ok, st.Error)
			}
			if tt.ok && !slices.Equal(st.Changed, tt.changed) {
				t.Errorf("changed %q, want %q", st.Changed, tt.changed)
			}
			if !tt.ok && ta.config() != cfgBefore {
				t.Error("a refused save replaced the configuration in force")
			}
			if restarted := ta.source() != before; restarted != tt.restarts {
				t.Errorf("source restarted = %v, want %v", restarted, tt.restarts)
			}
			if tt.ok && len(tt.changed) > 0 {
				// The log names the changes as /status does.
				want := `"changed": ["` + strings.Join(tt.changed, `", "`) + `"]`
				if !logHas(ta.logOut.Path(), want) {
					t.Errorf("the log has no line with %s", want)
				}
			}
			if tt.check != nil {
				tt.check(t, ta, port, port2)
			}
			if !ta.wait(0) {
				return
			}
			t.Fatalf("Run returned during the reload: %v", ta.err)
		})
	}
}

// The source of a save is the file's content; a reload parses it with the
// command line around it, so an option given there outlasts any save.
func TestReloadKeepsTheCommandLine(t *testing.T) {
	port := nettest.FreePort(t)
	ta := startApp(t, "-source test\n-size 8\n", "-host", "127.0.0.1", "-port", strconv.Itoa(port))
	ta.Reload(ta.ctx, []byte("-source test\n-size 8\n-port 1\n-quality 40\n"))
	if st := ta.Status().Config; !st.OK || !slices.Equal(st.Changed, []string{"-quality"}) {
		t.Fatalf("status %+v, want only -quality changed", st)
	}
	if ta.port() != port {
		t.Fatalf("the file's -port moved the listener over the command line's: %d", ta.port())
	}
}
