package e2e

// No secret in any error, log line, status or DWC message: the password
// (whatever the config file's lines do to it), and the content of a file
// the config path leads to by mistake.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"usbstream/internal/dsf/dsftest"
)

const (
	secretPW  = "Zq7S3cr3tPW"
	secretPW2 = "Zq7S3cr3tPW2"
)

// brokenSecretLines are lines that carry the password and are mistakes:
// each is refused with an error that /status and the log show.
var brokenSecretLines = []string{
	`"-password ` + secretPW2 + `"`,
	"-password" + secretPW2,
	"-pasword " + secretPW2,
	"-user lapse " + secretPW2,
	"-user lapse:" + secretPW2,
	"—password " + secretPW2,
	`"password ` + secretPW2 + `"`,
	secretPW2,
	"-password " + secretPW2 + " " + secretPW2,
	"-allow-origin http://lapse:" + secretPW2 + "@duet.local",
}

// With -verbose, through start, reloads and every broken form of the
// password line, neither the log (stderr and the file), nor /status, nor
// the error shows the password.
func TestPasswordNeverInLogOrStatus(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "usbStream.config")
	logFile := filepath.Join(dir, "usbStream.log")
	base := "-source test\n-resolution 160x120\n-framerate 10\n-user lapse\n"
	os.WriteFile(cfg, []byte(base+"-password "+secretPW+"\n"), 0o644)
	s := start(t, "-dsf", "none", "-verbose", "-logfile", logFile, "-file", cfg)
	requireAuth(t, s.base, "lapse", secretPW, "at start")

	saveLikeDWC(t, cfg, base+"-password "+secretPW2+"\n")
	eventually(t, 10*time.Second, "the new password in force", func() bool {
		code, _ := getAuth(t, s.base+"/status", "lapse", secretPW2)
		return code == 200
	})
	for _, line := range brokenSecretLines {
		content := base + "-password " + secretPW2 + "\n" + line + "\n"
		if line == secretPW2 || strings.HasPrefix(line, "-user") {
			content = "-source test\n-resolution 160x120\n-framerate 10\n-password " + secretPW2 + "\n" + line + "\n"
		}
		saveLikeDWC(t, cfg, content)
		st := waitStatus(t, s.base, "lapse", secretPW2, line, func(st statusDoc) bool { return !st.Config.OK })
		if strings.Contains(st.Config.Error, "Zq7") {
			t.Errorf("%q: config.error shows the password: %s", line, st.Config.Error)
		}
		if !strings.Contains(st.Config.Error, "usbStream.config:") {
			t.Errorf("%q: config.error does not name the file and line: %s", line, st.Config.Error)
		}
		saveLikeDWC(t, cfg, base+"-password "+secretPW2+"\n")
		waitStatus(t, s.base, "lapse", secretPW2, "the good file", func(st statusDoc) bool { return st.Config.OK })
	}
	if _, body := getAuth(t, s.base+"/status", "lapse", secretPW2); strings.Contains(string(body), "Zq7") {
		t.Errorf("/status shows the password:\n%s", body)
	}
	s.stop(t)
	logged, _ := os.ReadFile(logFile)
	for what, text := range map[string]string{"stderr": s.output.String(), "the log file": string(logged)} {
		if n := strings.Count(text, "Zq7"); n > 0 {
			t.Errorf("%s has the password %d times:\n%s", what, n, text)
		}
	}
	if !strings.Contains(string(logged), "config file not applied") {
		t.Errorf("the log file has no refusals:\n%s", logged)
	}
}

// A config path that is a symlink to another file (here a stand-in for
// /etc/shadow): the error names the line, never its content, since /status
// answers without credentials while usbStream runs on the defaults.
func TestSymlinkedConfigContentNotShown(t *testing.T) {
	dir := t.TempDir()
	shadow := filepath.Join(dir, "shadow")
	os.WriteFile(shadow, []byte("root:$y$j9T$"+secretPW+":19000:0:99999:7:::\nlapse:"+secretPW2+":19000::::::\n"), 0o600)
	cfg := filepath.Join(dir, "usbStream.config")
	os.Symlink(shadow, cfg)
	s := start(t, "-dsf", "none", "-file", cfg)
	d := statusOf(t, s.base, "", "")
	if d.Config.OK || d.Config.Error != cfg+":1: value without an option before it (options start with -)" {
		t.Errorf("config status %+v", d.Config)
	}
	// And at a reload: a good file, then the symlink put back.
	os.Remove(cfg)
	saveLikeDWC(t, cfg, "-source test\n-resolution 160x120\n")
	waitStatus(t, s.base, "", "", "the good file", func(d statusDoc) bool { return d.Config.OK })
	os.Symlink(shadow, cfg+".lnk")
	os.Rename(cfg+".lnk", cfg)
	d = waitStatus(t, s.base, "", "", "the symlink refused", func(d statusDoc) bool { return !d.Config.OK })
	st := getStatus(t, s)
	for _, text := range []string{d.Config.Error, st.Source.Error, s.output.String()} {
		if strings.Contains(text, "Zq7") || strings.Contains(text, "root:") || strings.Contains(text, "19000") {
			t.Errorf("the other file's content is shown: %s", text)
		}
	}
}

// Under DSF with -verbose: DWC's console, the plugin data and the log on
// the SD card never show the password either.
func TestDSFPasswordNeverInMessagesOrLog(t *testing.T) {
	base := "-source test\n-resolution 160x120\n-framerate 10\n-verbose\n-user lapse\n"
	l := newDSFLayout(t, dsftest.Profile36, base+"-password "+secretPW+"\n")
	_, s := l.startPlugin(t)
	eventually(t, 10*time.Second, "logging to the SD card", func() bool {
		b, _ := os.ReadFile(l.log)
		return strings.Contains(string(b), "connected to DSF")
	})
	// The snapshot through DWC's port: the door's token travels to DWS.
	viaDWS(t, l.twin, "/machine/usbStream/snapshot")
	l.saveThroughDWC(t, base+"-password"+secretPW2+"\n")
	eventually(t, 10*time.Second, "the DWC message about the broken line", func() bool {
		return hasMessage(l.twin, anyType, "usbStream.config:6:")
	})
	l.saveThroughDWC(t, base+"-password "+secretPW2+"\n")
	eventually(t, 10*time.Second, "the new password in force", func() bool {
		code, _ := getAuth(t, s.base+"/snapshot", "lapse", secretPW2)
		return code == 200
	})
	for _, m := range l.twin.Messages() {
		if strings.Contains(m.Content, "Zq7") {
			t.Errorf("a DWC message shows the password: %s", m.Content)
		}
	}
	if d, ok := pluginData(t, l.twin); !ok || strings.Contains(d.Config.Error+d.Source.Error, "Zq7") {
		t.Errorf("plugin data %+v", d)
	}
	time.Sleep(300 * time.Millisecond)
	logged, _ := os.ReadFile(l.log)
	for what, text := range map[string]string{"stderr": s.output.String(), "the log on the SD card": string(logged)} {
		if n := strings.Count(text, "Zq7"); n > 0 {
			t.Errorf("%s has the password %d times:\n%s", what, n, text)
		}
	}
}

// The "-verbose logs the password twice": a broken password line
// at start was logged as the start error and again, at debug level, by the
// source that shows it. Neither may show the password.
func TestVerboseStartWithABrokenPasswordLine(t *testing.T) {
	for _, line := range []string{"-password" + secretPW, "-user lapse " + secretPW, `"—password ` + secretPW + `"`} {
		cfg := filepath.Join(t.TempDir(), "usbStream.config")
		content := "-source test\n-user lapse\n" + line + "\n"
		if strings.HasPrefix(line, "-user") {
			content = "-source test\n-password pw\n" + line + "\n"
		}
		os.WriteFile(cfg, []byte(content), 0o644)
		s := start(t, "-dsf", "none", "-verbose", "-file", cfg)
		eventually(t, 5*time.Second, "the source showing the error", func() bool {
			return strings.Contains(s.output.String(), "no source until the configuration is mended")
		})
		st := getStatus(t, s)
		s.stop(t)
		if n := strings.Count(s.output.String(), "Zq7"); n > 0 || strings.Contains(st.Source.Error, "Zq7") {
			t.Errorf("%q: the password is logged %d times, source error %q:\n%s", line, n, st.Source.Error, s.output)
		}
	}
}
