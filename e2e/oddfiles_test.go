package e2e

// Odd files where the config or the log should be: a FIFO, a device, a
// huge or unreadable file, the log pointed at the config itself. Each is a
// config error shown in /status (and DWC) like any other, nothing blocks,
// and SIGTERM always ends the process within a second.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"usbstream/internal/nettest"
)

// fifoInPlace puts a FIFO where path is, in one rename, as a hostile or
// confused writer could.
func fifoInPlace(t *testing.T, path string) {
	t.Helper()
	tmp := path + ".fifo"
	os.Remove(tmp)
	if err := syscall.Mkfifo(tmp, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// A FIFO replacing the config file is an error at once; the next save is
// applied, and SIGTERM with the FIFO in place ends the process in time.
func TestFIFOConfigDoesNotBlockTheWatcher(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "usbStream.config")
	os.WriteFile(cfg, []byte("-source test\n-resolution 160x120\n-framerate 10\n"), 0o644)
	s := start(t, "-dsf", "none", "-file", cfg)
	fifoInPlace(t, cfg)
	d := waitStatus(t, s.base, "", "", "the FIFO refused", func(d statusDoc) bool { return !d.Config.OK })
	if d.Config.Error != cfg+": is a named pipe (FIFO), not a config file" {
		t.Errorf("config.error %q", d.Config.Error)
	}
	saveLikeDWC(t, cfg, "-source test\n-resolution 320x240\n-framerate 10\n")
	waitStatus(t, s.base, "", "", "the save after the FIFO", func(d statusDoc) bool {
		return d.Config.OK && strings.Contains(strings.Join(d.Config.Changed, " "), "-resolution")
	})
	fifoInPlace(t, cfg)
	waitStatus(t, s.base, "", "", "the second FIFO refused", func(d statusDoc) bool { return !d.Config.OK })
	t.Logf("SIGTERM with a FIFO as the config: exit after %v", s.stopWithin(t, time.Second).Round(time.Millisecond))
}

// A FIFO as the config file at start: a service runs on the defaults and
// says why; nothing waits for a writer.
func TestFIFOConfigAtStart(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "usbStream.config")
	if err := syscall.Mkfifo(cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, "-dsf", "none", "-file", cfg)
	if d := statusOf(t, s.base, "", ""); d.Config.OK || !strings.Contains(d.Config.Error, "named pipe") {
		t.Errorf("config status %+v", d.Config)
	}
	t.Logf("SIGTERM: exit after %v", s.stopWithin(t, time.Second).Round(time.Millisecond))
}

// -logfile naming a FIFO: on the command line a mistake (exit 2, at once),
// in the file a config error on the defaults, at a reload a refused save.
func TestFIFOLogFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "usbStream.log")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	port := nettest.FreePort(t)
	first := spawn(t, exec.Command(binary, "-source", "test", "-dsf", "none", "-host", "127.0.0.1",
		"-port", strconv.Itoa(port), "-logfile", fifo), port)
	if exited, err := first.waitExit(3 * time.Second); !exited {
		t.Fatalf("-logfile FIFO on the command line: still running after 3 s\n%s", first.output)
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 ||
		!strings.Contains(first.output.String(), "-logfile: is a named pipe (FIFO)") {
		t.Errorf("exit %v, want 2 naming the FIFO\n%s", err, first.output)
	}

	cfg := filepath.Join(dir, "usbStream.config")
	os.WriteFile(cfg, []byte("-source test\n-logfile usbStream.log\n"), 0o644)
	s := start(t, "-dsf", "none", "-file", cfg)
	if d := statusOf(t, s.base, "", ""); d.Config.OK || !strings.HasPrefix(d.Config.Error, cfg+":2: -logfile: is a named pipe (FIFO): "+
		"the log is only written to a regular file") {
		t.Errorf("config status %+v", d.Config)
	}
	saveLikeDWC(t, cfg, "-source test\n-resolution 160x120\n")
	waitStatus(t, s.base, "", "", "a good save", func(d statusDoc) bool { return d.Config.OK })
	saveLikeDWC(t, cfg, "-source test\n-resolution 160x120\n-logfile usbStream.log\n")
	waitStatus(t, s.base, "", "", "the FIFO log refused at a reload", func(d statusDoc) bool {
		return !d.Config.OK && strings.Contains(d.Config.Error, "named pipe")
	})
	s.stopWithin(t, time.Second)
}

// A 100 MB file and an unreadable one in the config's place are config
// errors in /status, not only lines in the log.
func TestHugeConfigIsAnError(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "usbStream.config")
	os.WriteFile(cfg, []byte("-source test\n-resolution 160x120\n"), 0o644)
	s := start(t, "-dsf", "none", "-file", cfg)
	huge := cfg + ".huge"
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("-source test\n")
	f.Truncate(100 << 20)
	f.Close()
	os.Rename(huge, cfg)
	d := waitStatus(t, s.base, "", "", "the huge file refused", func(d statusDoc) bool { return !d.Config.OK })
	if !strings.Contains(d.Config.Error, "is larger than 1024 KiB") {
		t.Errorf("config.error %q", d.Config.Error)
	}
	saveLikeDWC(t, cfg, "-source test\n-resolution 160x120\n")
	waitStatus(t, s.base, "", "", "the file back", func(d statusDoc) bool { return d.Config.OK })
	if st := getStatus(t, s); st.Process.RSSBytes > 80<<20 {
		t.Errorf("RSS %d MiB after a 100 MB config", st.Process.RSSBytes>>20)
	}
}

func TestUnreadableConfigAtReloadIsAnError(t *testing.T) {
	dir, err := os.MkdirTemp("", "usbstream-cfg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	os.Chmod(filepath.Dir(binary), 0o755)
	cfg := filepath.Join(dir, "usbStream.config")
	good := "-source test\n-resolution 160x120\n"
	os.WriteFile(cfg, []byte(good), 0o644)
	port := nettest.FreePort(t)
	cmd := exec.Command(binary, "-host", "127.0.0.1", "-port", strconv.Itoa(port), "-dsf", "none", "-file", cfg)
	if os.Geteuid() == 0 {
		// root reads a mode 000 file; run as the service user it would be.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	s := launch(t, cmd, port)
	waitStatus(t, s.base, "", "", "the file applied", func(d statusDoc) bool { return d.Config.OK })
	// The same content, saved as DWC saves, but unreadable.
	if err := os.WriteFile(cfg+".part", []byte(good), 0); err != nil {
		t.Fatal(err)
	}
	os.Chmod(cfg+".part", 0)
	os.Rename(cfg+".part", cfg)
	d := waitStatus(t, s.base, "", "", "the unreadable file refused", func(d statusDoc) bool { return !d.Config.OK })
	if !strings.Contains(d.Config.Error, "permission denied") {
		t.Errorf("config.error %q", d.Config.Error)
	}
	os.Chmod(cfg, 0o644)
	waitStatus(t, s.base, "", "", "readable again, same content", func(d statusDoc) bool { return d.Config.OK })
}

// -logfile naming the config file, directly or through a hard link or a
// symlink, is refused: each log line would otherwise be a save that logs
// a reload, for ever. The config file does not grow.
func TestLogFileThatIsTheConfig(t *testing.T) {
	good := "-source test\n-resolution 160x120\n-verbose\n"
	s, cfg := startOnConfig(t, good)
	dir := filepath.Dir(cfg)
	os.Link(cfg, filepath.Join(dir, "hard.log"))
	os.Symlink(cfg, filepath.Join(dir, "sym.log"))
	for _, name := range []string{"usbStream.config", "hard.log", "sym.log"} {
		content := good + "-logfile " + name + "\n"
		saveLikeDWC(t, cfg, content)
		// DWC's save is a new inode: the links are made again to it.
		os.Remove(filepath.Join(dir, "hard.log"))
		os.Link(cfg, filepath.Join(dir, "hard.log"))
		d := waitStatus(t, s.base, "", "", "-logfile "+name+" refused", func(d statusDoc) bool { return !d.Config.OK })
		if !strings.Contains(d.Config.Error, cfg+":4: -logfile: is the config file itself") {
			t.Errorf("-logfile %s: config.error %q", name, d.Config.Error)
		}
		time.Sleep(3 * time.Second)
		if b, _ := os.ReadFile(cfg); string(b) != content {
			t.Errorf("-logfile %s: the config file grew by %d bytes in 3 s", name, len(b)-len(content))
		}
		saveLikeDWC(t, cfg, good)
		waitStatus(t, s.base, "", "", "the good file", func(d statusDoc) bool { return d.Config.OK })
	}
	reloads := strings.Count(s.output.String(), "config file changed")
	if reloads > 10 {
		t.Errorf("%d reloads for 6 saves", reloads)
	}
	s.stopWithin(t, time.Second)
}

// The same at start, in a file that names itself as the log.
func TestLogFileThatIsTheConfigAtStart(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "usbStream.config")
	content := "-source test\n-verbose\n-logfile usbStream.config\n"
	os.WriteFile(cfg, []byte(content), 0o644)
	s := start(t, "-dsf", "none", "-file", cfg)
	if d := statusOf(t, s.base, "", ""); d.Config.OK || !strings.Contains(d.Config.Error, "is the config file itself") {
		t.Errorf("config status %+v", d.Config)
	}
	time.Sleep(3 * time.Second)
	b, _ := os.ReadFile(cfg)
	if string(b) != content {
		t.Errorf("the config file grew by %d bytes in 3 s", len(b)-len(content))
	}
	if n := strings.Count(s.output.String(), "\n"); n > 20 {
		t.Errorf("%d log lines in 3 s:\n%s", n, s.output)
	}
	s.stopWithin(t, time.Second)
}
