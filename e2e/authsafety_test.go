package e2e

// Basic auth never switches off because the config file lost its lines:
// every way a save, an upload or a person can leave the file without its
// -user and -password is refused while the running configuration has them,
// and the listener and the source stay as they were. Only -auth none, said
// on purpose, switches auth off.

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"usbstream/internal/dsf/dsftest"
	"usbstream/internal/nettest"
)

// requireAuth checks that every route still asks for the credentials and
// gives what it gives with them.
func requireAuth(t *testing.T, base, user, pass, what string) {
	t.Helper()
	for _, path := range []string{"/status", "/snapshot", "/stream", "/cameras", "/"} {
		if code, _ := getAuth(t, base+path, "", ""); code != http.StatusUnauthorized {
			t.Errorf("%s: %s without credentials answered %d, want 401", what, path, code)
		}
	}
	if code, _ := getAuth(t, base+"/snapshot", user, pass); code != 200 {
		t.Errorf("%s: /snapshot with the credentials answered %d", what, code)
	}
}

func TestReloadNeverSwitchesAuthOff(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "usbStream.config")
	port := nettest.FreePort(t)
	good := fmt.Sprintf("-# usbStream\n-port %d\n-host 127.0.0.1\n-source test\n-resolution 160x120\n"+
		"-framerate 10\n-user lapse\n-password pw-9f3k\n", port)
	os.WriteFile(cfg, []byte(good), 0o644)
	s := launch(t, exec.Command(binary, "-dsf", "none", "-file", cfg), port)
	const user, pass = "lapse", "pw-9f3k"
	requireAuth(t, s.base, user, pass, "at start")
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	noAuth := filepath.Join(dir, "noauth")
	os.WriteFile(noAuth, []byte("-source test\n"), 0o644)

	lines := strings.SplitAfter(good, "\n")
	without := func(drop ...string) string {
		var b strings.Builder
		for _, l := range lines {
			keep := true
			for _, d := range drop {
				keep = keep && !strings.HasPrefix(l, d)
			}
			if keep {
				b.WriteString(l)
			}
		}
		return b.String()
	}
	commented := strings.NewReplacer("-user", "-# -user", "-password", "-# -password").Replace(good)
	type loss struct {
		name string
		do   func()
		want string // in config.error
	}
	inPlace := func(content string) func() {
		return func() { os.WriteFile(cfg, []byte(content), 0o644) }
	}
	dwc := func(content string) func() { return func() { saveLikeDWC(t, cfg, content) } }
	replaceBy := func(target string) func() {
		return func() {
			os.Remove(cfg + ".lnk")
			os.Symlink(target, cfg+".lnk")
			os.Rename(cfg+".lnk", cfg)
		}
	}
	const blank, gone = "has no options", "has no -user and -password"
	for _, l := range []loss{
		{"emptied in place", inPlace(""), blank},
		{"emptied by DWC", dwc(""), blank},
		{"whitespace only", dwc("  \n\t\n\n"), blank},
		{"comments only", dwc("-# usbStream\n# -user lapse\n"), blank},
		{"-user line deleted", dwc(without("-user")), "-password: needs -user as well"},
		{"-password line deleted", dwc(without("-password")), "-user: needs -password as well"},
		{"both deleted", dwc(without("-user", "-password")), gone},
		{"both commented out", dwc(commented), gone},
		{"truncated mid-file", inPlace(good[:strings.Index(good, "-resolution")+5]), ""},
		{"truncated before the credentials", inPlace(good[:strings.Index(good, "-user")]), gone},
		{"truncated in the -user line", inPlace(good[:strings.Index(good, "-user")+4]), ""},
		{"replaced by a symlink to /dev/null", replaceBy("/dev/null"), "is a device"},
		{"replaced by a symlink to an empty file", replaceBy(empty), blank},
		{"replaced by a symlink to a file without credentials", replaceBy(noAuth), gone},
		{"deleted and created empty", func() { os.Remove(cfg); time.Sleep(400 * time.Millisecond); os.WriteFile(cfg, nil, 0o644) }, blank},
		{"auth basic without credentials", dwc("-auth basic\n-source test\n"), "-auth basic: needs -user and -password"},
		{"-host line deleted", dwc(without("-host")), "has no -host, which would open the stream to every network"},
	} {
		t.Run(l.name, func(t *testing.T) {
			before := statusOf(t, s.base, user, pass)
			l.do()
			st := waitStatus(t, s.base, user, pass, "the refusal", func(st statusDoc) bool { return !st.Config.OK })
			if !strings.Contains(st.Config.Error, l.want) || !strings.HasPrefix(st.Config.Error, cfg) {
				t.Errorf("config.error %q, want it to name the file and say %q", st.Config.Error, l.want)
			}
			if st.HTTP.Port != port || st.HTTP.Host != "127.0.0.1" || !st.HTTP.Auth || st.Source.Kind != "test" {
				t.Errorf("the refused file changed the listener or the source: %+v %+v", st.HTTP, st.Source)
			}
			requireAuth(t, s.base, user, pass, l.name)
			if strings.Contains(st.Config.Error, pass) {
				t.Errorf("the error shows the password: %s", st.Config.Error)
			}
			// The good file back: applied, the error gone.
			os.Remove(cfg)
			saveLikeDWC(t, cfg, good)
			waitStatus(t, s.base, user, pass, "the good file again", func(st statusDoc) bool {
				return st.Config.OK && st.Config.LoadedAt.After(before.Config.LoadedAt)
			})
		})
	}
	if out := s.output.String(); !strings.Contains(out, "WARN") || !strings.Contains(out, "has no options") {
		t.Errorf("the refusals are not logged as warnings:\n%s", out)
	}

	// Said on purpose, auth goes; the rest of the file applies as usual.
	saveLikeDWC(t, cfg, without("-user", "-password")+"-auth none\n")
	eventually(t, 10*time.Second, "-auth none applied", func() bool {
		code, _ := getAuth(t, s.base+"/snapshot", "", "")
		return code == 200
	})
	if st := statusOf(t, s.base, "", ""); !st.Config.OK || !strings.Contains(strings.Join(st.Config.Changed, " "), "-user") {
		t.Errorf("after -auth none: %+v", st.Config)
	}
}

// Credentials on the command line (DSF's plugin.json arguments, a systemd
// unit) are part of every reloaded configuration: a file that loses its
// lines or never had any cannot switch them off, and a blank file is
// still refused.
func TestCommandLineCredentialsSurviveTheFile(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "usbStream.config")
	os.WriteFile(cfg, []byte("-source test\n-resolution 160x120\n-framerate 10\n"), 0o644)
	s := start(t, "-dsf", "none", "-file", cfg, "-user", "cli", "-password", "cli-pw-77")
	requireAuth(t, s.base, "cli", "cli-pw-77", "at start")
	before := statusOf(t, s.base, "cli", "cli-pw-77")
	saveLikeDWC(t, cfg, "")
	st := waitStatus(t, s.base, "cli", "cli-pw-77", "the blank file refused", func(st statusDoc) bool { return !st.Config.OK })
	if !strings.Contains(st.Config.Error, "has no options") {
		t.Errorf("config.error %q", st.Config.Error)
	}
	saveLikeDWC(t, cfg, "-source test\n-resolution 320x240\n")
	waitStatus(t, s.base, "cli", "cli-pw-77", "a file without credentials applied", func(st statusDoc) bool {
		return st.Config.OK && st.Config.LoadedAt.After(before.Config.LoadedAt)
	})
	requireAuth(t, s.base, "cli", "cli-pw-77", "after a file without credentials")
}

// Under DSF the refusal reaches DWC's console and the plugin data like any
// config error, and the next good save says it is fixed.
func TestDSFEmptiedConfigIsRefused(t *testing.T) {
	good := "-source test\n-resolution 160x120\n-framerate 10\n-user lapse\n-password pw-9f3k\n"
	l := newDSFLayout(t, dsftest.Profile36, good)
	_, s := l.startPlugin(t)
	requireAuth(t, s.base, "lapse", "pw-9f3k", "at start")
	l.saveThroughDWC(t, "")
	eventually(t, 10*time.Second, "a DWC message about the blank file", func() bool {
		return hasMessage(l.twin, 2, "usbStream.config: has no options", "still running with the last good configuration")
	})
	eventually(t, 5*time.Second, "plugin data with the refusal", func() bool {
		d, ok := pluginData(t, l.twin)
		return ok && !d.Config.OK && strings.Contains(d.Config.Error, "has no options")
	})
	requireAuth(t, s.base, "lapse", "pw-9f3k", "after the blank save")
	l.saveThroughDWC(t, good)
	eventually(t, 10*time.Second, "a DWC note that the error is fixed", func() bool {
		m := l.twin.Messages()
		return len(m) > 0 && m[len(m)-1].Type == 0 && strings.Contains(m[len(m)-1].Content, "error is fixed")
	})
}

// -allowhost at start and at a reload: a request naming another host gets
// 421, addresses and listed names are answered, and removing the option
// allows any name again.
func TestAllowHostAppliesAndReloads(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "usbStream.config")
	base := "-source test\n-resolution 160x120\n-framerate 10\n"
	os.WriteFile(cfg, []byte(base+"-allowhost printer.local,duet3\n"), 0o644)
	s := start(t, "-dsf", "none", "-file", cfg)
	code := func(host string) int {
		req, _ := http.NewRequest(http.MethodGet, s.base+"/status", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for host, want := range map[string]int{"printer.local": 200, "DUET3:8085": 200, "127.0.0.1": 200,
		"rebind.example.com": http.StatusMisdirectedRequest} {
		if got := code(host); got != want {
			t.Errorf("at start, Host %s: %d, want %d", host, got, want)
		}
	}
	saveLikeDWC(t, cfg, base+"-allowhost rebind.example.com\n")
	waitStatus(t, s.base, "", "", "the new list", func(d statusDoc) bool {
		return d.Config.OK && strings.Join(d.Config.Changed, " ") == "-allowhost"
	})
	if code("rebind.example.com") != 200 || code("printer.local") != http.StatusMisdirectedRequest {
		t.Errorf("after the reload: rebind %d, printer.local %d", code("rebind.example.com"), code("printer.local"))
	}
	saveLikeDWC(t, cfg, base+"-allowhost http://printer.local\n")
	d := waitStatus(t, s.base, "", "", "a bad name refused", func(d statusDoc) bool { return !d.Config.OK })
	if !strings.Contains(d.Config.Error, ":4: -allowhost http://printer.local: must be host names") {
		t.Errorf("config.error %q", d.Config.Error)
	}
	saveLikeDWC(t, cfg, base)
	waitStatus(t, s.base, "", "", "no list", func(d statusDoc) bool { return d.Config.OK })
	if code("anything.example") != 200 {
		t.Error("without -allowhost a name is refused")
	}
}

// A file broken at start that asked for credentials: usbStream runs on the
// defaults (no auth, no camera) until a save mends it, and a save that
// mends the error by losing the credentials is refused like a reload that
// loses them, since the port would otherwise open the camera to everyone.
func TestBrokenFileWithCredentialsAtStartKeepsAskingForThem(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "usbStream.config")
	os.WriteFile(cfg, []byte("-source test\n-user lapse\n-password pw-9f3k\n-rotate 45\n"), 0o644)
	s := start(t, "-dsf", "none", "-file", cfg)
	for content, want := range map[string]string{
		"":                 "has no options",
		"-source test\n":   "has no -user and -password",
		"-# -user lapse\n": "has no options",
	} {
		saveLikeDWC(t, cfg, content)
		d := waitStatus(t, s.base, "", "", "the refusal", func(d statusDoc) bool {
			return !d.Config.OK && strings.Contains(d.Config.Error, want)
		})
		if st := getStatus(t, s); !strings.Contains(st.Source.Error, want) || st.Source.Kind == "test" {
			t.Errorf("%q: the source %+v, want the error picture naming %q (config.error %q)", content, st.Source, want, d.Config.Error)
		}
	}
	saveLikeDWC(t, cfg, "-source test\n-auth none\n")
	waitStatus(t, s.base, "", "", "-auth none applied", func(d statusDoc) bool { return d.Config.OK })
}
